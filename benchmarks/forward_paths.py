"""Forward-path configurations of the default network on the prepared test split: images/s
and top-1 of each, against eager fp32 NCHW (the reference), all in one run.

    python benchmarks/forward_paths.py [--split test] [--skip-compile] [--skip-onnx]
"""

from __future__ import annotations

import argparse
import copy
import time
from functools import partial

import numpy as np
import torch

from common import IMAGENET_SAMPLE, SPLITS, record
from qsearch.images import load_images
from qsearch.models import load_classifier


def measure(forward, inputs: torch.Tensor, labels: np.ndarray, batch: int) -> tuple[float, float]:
    """(images per second, top-1) over all inputs, after one warm-up batch."""
    forward(inputs[:batch])
    start = time.perf_counter()
    logits = [forward(inputs[s : s + batch]).float() for s in range(0, len(inputs), batch)]
    seconds = time.perf_counter() - start
    return len(inputs) / seconds, float((torch.cat(logits).argmax(1).numpy() == labels).mean())


def eager(module, memory_format, dtype=None, autocast=False):
    """The eager module in ``memory_format`` (and ``dtype``, or under bf16 autocast)."""
    model = copy.deepcopy(module).to(memory_format=memory_format)
    if dtype is not None:
        model = model.to(dtype)

    def forward(x):
        x = x.contiguous(memory_format=memory_format)
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(x)
        return model(x if dtype is None else x.to(dtype))

    return forward


def compiled(module, dtype=None):
    """``torch.compile`` of the channels-last module (in ``dtype`` when given)."""
    model = copy.deepcopy(module).to(memory_format=torch.channels_last)
    model = torch.compile(model.to(dtype) if dtype is not None else model)
    return (lambda x: model(x.to(dtype))) if dtype is not None else model


def onnxruntime(module, example):
    """The module exported to ONNX and run by ONNX Runtime on the CPU."""
    import onnxruntime as ort

    path = "/tmp/qsearch-forward-bench.onnx"
    torch.onnx.export(
        copy.deepcopy(module),
        example[:1].contiguous(),
        path,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "n"}},
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"x": x.contiguous().numpy()})[0])


def configurations(module, example, args):
    """(name, setup callable returning a forward function) in the order they are measured."""
    plans = [
        ("eager fp32 NCHW (reference)", partial(eager, module, torch.contiguous_format)),
        ("eager fp32 channels_last", partial(eager, module, torch.channels_last)),
        ("eager bf16 autocast, channels_last",
         partial(eager, module, torch.channels_last, autocast=True)),
        ("eager bf16 weights, channels_last",
         partial(eager, module, torch.channels_last, dtype=torch.bfloat16)),
    ]  # fmt: skip
    if not args.skip_compile:
        plans += [
            ("torch.compile fp32", partial(compiled, module)),
            ("torch.compile bf16 weights", partial(compiled, module, torch.bfloat16)),
        ]
    if not args.skip_onnx:
        plans.append(("ONNX Runtime fp32", partial(onnxruntime, module, example)))
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-onnx", action="store_true")
    args = parser.parse_args()
    classifier = load_classifier(device="cpu")
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split=args.split, preprocessing=classifier.preprocessing
    )
    inputs = classifier.to_input(images.images).contiguous()
    rows, reference = [], None
    with torch.inference_mode():
        for name, setup in configurations(classifier.module, inputs, args):
            start = time.perf_counter()
            forward = setup()
            forward(inputs[: args.batch])
            setup_seconds = time.perf_counter() - start
            speed, top1 = measure(forward, inputs, images.labels, args.batch)
            reference = reference or (speed, top1)
            rows.append(
                f"| {name} | {args.batch} | {speed:.1f} | {1000 / speed:.1f} | {speed / reference[0]:.2f}x "
                f"| {top1:.4f} | {100 * (top1 - reference[1]):+.2f} | {setup_seconds:.1f} |"
            )
            print(rows[-1], flush=True)
        best = copy.deepcopy(classifier.module).to(torch.bfloat16)
        for batch in (16, 100):
            speed, top1 = measure(
                lambda x: best(x.to(torch.bfloat16)), inputs, images.labels, batch
            )
            rows.append(
                f"| eager bf16 weights, channels_last | {batch} | {speed:.1f} | {1000 / speed:.1f} | "
                f"{speed / reference[0]:.2f}x | {top1:.4f} | {100 * (top1 - reference[1]):+.2f} | - |"
            )
        torch.set_num_threads(1)
        speed, top1 = measure(
            lambda x: best(x.to(torch.bfloat16)), inputs, images.labels, args.batch
        )
        rows.append(
            f"| eager bf16 weights, channels_last, 1 thread | {args.batch} | {speed:.1f} | {1000 / speed:.1f} | "
            f"{speed / reference[0]:.2f}x | {top1:.4f} | {100 * (top1 - reference[1]):+.2f} | - |"
        )
    record(
        f"Forward paths ({args.split} split, {len(images)} images, EfficientNet-Lite0)",
        "| configuration | batch | images/s | ms/image | speed-up | top-1 | Δ top-1 (points) | setup s |\n"
        "|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nCommand: `python benchmarks/forward_paths.py`",
    )


if __name__ == "__main__":
    main()
