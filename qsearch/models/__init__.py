"""Frozen networks: loading one (the embedded default, an architecture with local weights, or a
model file with its declared inputs) and the forward paths it can run."""

from qsearch.models.classifier import DEFAULT_MODEL, Classifier, default_device, load_classifier
from qsearch.models.sidecar import read_sidecar, sidecar_path, write_sidecar

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "default_device",
    "load_classifier",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]
