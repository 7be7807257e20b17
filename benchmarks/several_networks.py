"""Tables for several networks: the `targets` searcher with EfficientNet-Lite0, Lite1 and Lite2
judging every table together (a table keeps the mean uncompressed accuracy minus the worst
network's loss), targets at 98% and 95%, on the first 200 images of the `search` split (three
networks cost about four times one; 96 evaluations: the 40-table sweep and one round of probes);
then its front on each network apart on the 400 unseen `test` images, beside the Lite0-only front
(`benchmarks/transfer.py`). Resumable: the same command continues the search.

    python benchmarks/several_networks.py [--budget 96] [--combine worst]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from common import ROOT, search, unpacked

RESULTS = ROOT / "benchmarks" / "results" / "several_networks"
NETWORKS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=96)
    parser.add_argument("--combine", choices=("worst", "mean"), default="worst")
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    out = RESULTS / f"targets-{args.combine}-b{args.budget}-s0"
    RESULTS.mkdir(parents=True, exist_ok=True)
    options = {"targets": [0.98, 0.95], "metric": "top1", "signal": "logprob"}
    with unpacked(RESULTS):
        search(
            out, "targets", budget=args.budget, test_split=None, options=options,
            limit=args.images, networks=NETWORKS, combine=args.combine,
        )  # fmt: skip
    transfer = ROOT / "benchmarks" / "transfer.py"
    subprocess.run([sys.executable, str(transfer), "--front", str(out)], check=True)


if __name__ == "__main__":
    main()
