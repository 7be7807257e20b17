"""qsearch: search JPEG quantization tables for machine vision."""
from qsearch.codec import Codec, EncoderSettings
from qsearch.errors import QSearchError
from qsearch.qtable import QTable
from qsearch.study import Study
from qsearch.trial import Objective, Trial

__all__ = ["Codec", "EncoderSettings", "Objective", "QSearchError", "QTable", "Study", "Trial"]
__version__ = "0.1.0"
