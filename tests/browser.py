"""A real headless browser (Debian's ``chromium``) for the tests that check what a page renders:
the DOM after its scripts ran."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_browser = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="no headless browser (Debian's chromium) installed; CI installs one",
)


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` (a file) once loaded and its scripts run, ``profile`` a fresh folder."""
    return subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
            f"--user-data-dir={profile}", "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
