"""qsearch: search JPEG quantization tables for machine vision."""
from qsearch.codec import Codec, EncoderSettings
from qsearch.errors import QSearchError
from qsearch.qtable import QTable

__all__ = ["Codec", "EncoderSettings", "QSearchError", "QTable"]
__version__ = "0.1.0"
