"""Image sets: files found and labelled by an explicit rule, split files, decoding, the
input geometry a network reads (one description for every task), and the prepared-image cache."""

from qsearch.images.discovery import LABEL_RULES, imagenet_synsets
from qsearch.images.files import read_metadata, read_rgb
from qsearch.images.geometry import INTERPOLATIONS, RESIZES, InputGeometry, Placement
from qsearch.images.imageset import COMPRESS_AT, ImageSet
from qsearch.images.loading import load_images
from qsearch.images.splits import read_split, split_files

__all__ = [
    "COMPRESS_AT",
    "INTERPOLATIONS",
    "LABEL_RULES",
    "RESIZES",
    "ImageSet",
    "InputGeometry",
    "Placement",
    "imagenet_synsets",
    "load_images",
    "read_metadata",
    "read_rgb",
    "read_split",
    "split_files",
]
