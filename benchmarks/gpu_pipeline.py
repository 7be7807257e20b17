"""The evaluation pipeline on a GPU machine: encode, decode, forward and full-evaluation times
for one table on the same prepared images, and the ratio of a full evaluation to the bare
forward pass; encoding on threads (Pillow's encoder holds the GIL) against worker processes.
Also runs the gradient-based searchers on CUDA. Prints a RESULTS.md section.

    python benchmarks/gpu_pipeline.py --data DIR [--count 200] [--batch-size 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from qsearch import QTable
from qsearch.codecs.codec import Codec, decode, encode
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.search.searcher import make_searcher
from qsearch.search.space import SPACES


def seconds(work, repeats: int) -> float:
    """Median wall time of ``work`` (CUDA synchronised)."""
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        work()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} cores, {device}, torch {torch.__version__}, Python {platform.python_version()}"


def cuda_searchers(evaluator: ClassifierEvaluator) -> str:
    """The gradient-based searchers, bound to an evaluator on the GPU, propose valid tables."""
    lines = []
    for name, options in (
        ("gradient", {"steps": 2, "batch": 8}),
        ("sensitivity", {"images_used": 32}),
    ):
        searcher = make_searcher(name, **options).setup(SPACES["full"](), evaluator, 0)
        start = time.perf_counter()
        tables = searcher.ask(2)
        assert all(searcher.space.contains(t) for t in tables)
        lines.append(
            f"| `{name}` on {evaluator.classifier.device} | 2 tables proposed in "
            f"{time.perf_counter() - start:.1f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the section to this file")
    args = parser.parse_args()
    classifier = load_classifier()
    images = load_images(
        args.data, limit=args.count, labels="none", preprocessing=classifier.preprocessing
    )
    stack, table, cores = images.images, QTable.from_quality(50), os.cpu_count() or 1
    by_threads = ClassifierEvaluator(
        images, classifier, batch_size=args.batch_size, encoder_processes=0
    )
    by_processes = ClassifierEvaluator(images, classifier, batch_size=args.batch_size)
    for evaluator in (by_threads, by_processes):
        evaluator.evaluate(table)  # warm-up: kernels, worker start
    files = by_threads.encode_all(table)
    one_thread = seconds(lambda: [encode(image, table) for image in stack], args.repeats)
    threads = seconds(lambda: by_threads.encode_all(table), args.repeats)
    processes = seconds(lambda: by_processes.encode_all(table), args.repeats)
    decode_one = seconds(lambda: [decode(f) for f in files], args.repeats)
    codec = Codec(threads=cores)
    decode_all = seconds(lambda: codec.decode_all(files, stack.shape[1:]), args.repeats)
    pinned = (
        torch.from_numpy(stack).pin_memory()
        if torch.cuda.is_available()
        else torch.from_numpy(stack)
    )
    fast = by_processes.classifier
    forward = seconds(lambda: fast.log_probs(pinned), args.repeats)
    full_threads = seconds(lambda: by_threads.evaluate(table), args.repeats)
    full_processes = seconds(lambda: by_processes.evaluate(table), args.repeats)
    same = by_threads.evaluate(table)["agreement"] == by_processes.evaluate(table)["agreement"]
    identical = by_processes.encode_all(table) == files
    n = len(images)
    rows = [
        ("encode, 1 thread", one_thread),
        (f"encode, {cores} threads (GIL-bound)", threads),
        (f"encode, {by_processes.encoder_processes} processes", processes),
        ("decode, 1 thread", decode_one),
        (f"decode, {cores} threads", decode_all),
        (f"bare forward ({fast.forward}, batch {args.batch_size})", forward),
        ("full evaluation, encoding on threads", full_threads),
        ("full evaluation, encoding in processes (default on CUDA)", full_processes),
    ]
    body = "| measure | ms | images/s |\n|---|---|---|\n" + "\n".join(
        f"| {label} | {1000 * s:.1f} | {n / s:,.0f} |" for label, s in rows
    )
    body += (
        f"\n\n**full evaluation / bare forward = {full_processes / forward:.2f}** with encoding in processes "
        f"({full_threads / forward:.2f} on threads); identical files: {identical}; same agreement: {same}.\n\n"
        "| CUDA searchers | |\n|---|---|\n"
        + cuda_searchers(by_processes)
        + f"\n\nCommand: `python benchmarks/gpu_pipeline.py --data DIR --count {args.count} --batch-size "
        f"{args.batch_size}` ({n} test-split images, IJG q50, 4:2:0)"
    )
    section = (
        f"## GPU pipeline ({n} images, IJG q50)\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}\n\n{body}\n"
    )
    print(section)
    if args.out:
        args.out.write_text(section)
    by_threads.close()
    by_processes.close()


if __name__ == "__main__":
    main()
