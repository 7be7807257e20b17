"""Searchers propose quantization tables (ask) and learn from scored trials (tell)."""
