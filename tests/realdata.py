"""Where the shared real data lies (beside the project, read-only, also in CI)."""
from __future__ import annotations

import json
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IMAGENET_SAMPLE = SHARED_DATA / "imagenet-sample"
SPLITS = IMAGENET_SAMPLE / "splits.json"


def split_names(split: str, count: int) -> list[str]:
    return json.loads(SPLITS.read_text())[split][:count]
