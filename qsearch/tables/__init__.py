"""Quantization tables: the immutable table, its families (IJG, mozjpeg's presets, ...), the
frequency bands searchers move, the tables of files a user has, and every export format."""
