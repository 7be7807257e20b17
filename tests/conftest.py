"""Shared fixtures: small real subsets of the ImageNet sample and the real default model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from realdata import IMAGENET_SAMPLE, split_names


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session prepares images into its own cache folder."""
    monkeypatch.setenv("QSEARCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def classifier():
    from qsearch.models import load_classifier

    return load_classifier(device="cpu")


@pytest.fixture
def imagenet_folder(tmp_path) -> Path:
    """A flat ImageNet-style folder with 12 real test-split images."""
    folder = tmp_path / "imagenet"
    folder.mkdir()
    for name in split_names("test", 12):
        shutil.copy(IMAGENET_SAMPLE / name, folder / name)
    return folder
