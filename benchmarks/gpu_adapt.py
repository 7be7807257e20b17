"""``qsearch adapt`` on a GPU machine: the whole adaptation of EfficientNet-Lite0 (BatchNorm,
the default settings) on the same images through CUDA and through the machine's CPU cores,
one epoch each for the ratio and then the full schedule on CUDA, with what each kept (epoch,
uncompressed KL and agreement on the validation images). Prints a RESULTS.md section.

    python benchmarks/gpu_adapt.py --data DIR --split-file F [--epochs 6]

The split file names ``train`` and ``validation`` lists of image names in DIR.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import record
from qsearch.cli import main


def adapt(args, device: str, epochs: int) -> dict:
    """One ``qsearch adapt`` run: its wall time and its record."""
    out = Path(tempfile.mkdtemp()) / "adapted"
    start = time.perf_counter()
    status = main([
        "adapt", "--data", str(args.data), "--split-file", str(args.split_file), "--split", "train",
        "--validation-split", "validation", "--epochs", str(epochs), "--device", device,
        "--out", str(out),
    ])  # fmt: skip
    seconds = time.perf_counter() - start
    kept = json.loads((out / "adapter.record.json").read_text()) if status == 0 else {}
    return {"device": device, "epochs": epochs, "seconds": seconds, "status": status, **kept}


def line(run: dict) -> str:
    history = run.get("history", [])
    best = run.get("best_epoch")
    kept = history[best] if best is not None and best < len(history) else {}
    return (
        f"| {run['device']} | {run['epochs']} | {run.get('epochs_run', '-')} | {run['seconds']:.1f} | "
        f"{best if best is not None else 'none'} | {kept.get('uncompressed_kl', float('nan')):.4f} | "
        f"{kept.get('uncompressed_agreement', float('nan')):.3f} |"
    )


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split-file", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    splits = json.loads(args.split_file.read_text())
    runs = [adapt(args, "cuda", 1), adapt(args, "cpu", 1), adapt(args, "cuda", args.epochs)]
    ratio = runs[1]["seconds"] / runs[0]["seconds"]
    body = "\n".join([
        f"Command: `python benchmarks/gpu_adapt.py --data DIR --split-file F --epochs {args.epochs}` "
        f"({len(splits['train'])} train and {len(splits['validation'])} validation images of the "
        "ImageNet sample's search split; EfficientNet-Lite0, BatchNorm learned, IJG 10..90, 4:2:0; "
        "wall time of the whole command: model load, the frozen epoch 0 and checks included)",
        "",
        "| device | epochs asked | epochs run | seconds | epoch kept | uncompressed KL | uncompressed agreement |",
        "|---|---|---|---|---|---|---|",
        *(line(run) for run in runs),
        "",
        f"One epoch: CPU / CUDA wall time {ratio:.1f}x.",
    ])  # fmt: skip
    record("Adapting the network on a GPU machine", body)


if __name__ == "__main__":
    main_()
