"""Shared fixtures (small real image sets, the real default model) and the test tiers:
``imagenet`` tests need the shared ImageNet sample, ``slow`` tests are the end-to-end runs
that ``make test-all`` and CI add to the fast tier of ``make test``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from realdata import COCO_MISSING, IMAGENET_SAMPLE, MISSING, have_coco, have_sample, split_names


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "imagenet: needs the shared ImageNet sample (QSEARCH_TEST_DATA)"
    )
    config.addinivalue_line(
        "markers", "coco: needs the shared COCO128 set, detector and segmenter (../shared)"
    )
    config.addinivalue_line("markers", "slow: an end-to-end run; `make test-all` and CI run it")


def pytest_collection_modifyitems(config, items):
    for mark, present, missing in (
        ("imagenet", have_sample(), MISSING),
        ("coco", have_coco(), COCO_MISSING),
    ):
        if present:
            continue
        if os.environ.get("QSEARCH_REQUIRE_TEST_DATA") == "1":
            raise pytest.UsageError(f"{missing} (QSEARCH_REQUIRE_TEST_DATA=1 makes it required)")
        skip = pytest.mark.skip(reason=missing)
        for item in items:
            if mark in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Each test session prepares images into its own cache folder, never the user's: set
    before any fixture of a wider scope loads images."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QSEARCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


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
