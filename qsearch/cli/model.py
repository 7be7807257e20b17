"""``qsearch model``: declare a model file's inputs in its sidecar."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import triple, whole
from qsearch.errors import QSearchError
from qsearch.images import INTERPOLATIONS

NAME = "model"
HELP = "describe a model file's inputs in the sidecar qsearch reads (M.json)"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch model``."""
    parser.add_argument(
        "action", choices=("describe",), help="describe: write M.json beside the model file M"
    )
    parser.add_argument(
        "file", type=Path, help="TorchScript (.pt), torch.export (.pt2) or ONNX (.onnx) file"
    )
    parser.add_argument("--mean", type=triple, help="input normalisation mean R,G,B in 0..1")
    parser.add_argument("--std", type=triple, help="input normalisation std R,G,B in 0..1")
    parser.add_argument("--input-size", type=whole(8), help="network input side in pixels")
    parser.add_argument("--resize", type=whole(8), help="short side before the centre crop")
    parser.add_argument("--interpolation", choices=tuple(INTERPOLATIONS), help="resize filter")


def run(args) -> int:
    """Write the input declaration a model file is used with (its sidecar and the options given)."""
    from qsearch.cli.build import declared_preprocessing
    from qsearch.models import load_classifier, write_sidecar

    if not args.file.is_file():
        raise QSearchError(f"{args.file}: no such model file")
    classifier = load_classifier(
        str(args.file), device="cpu", declared=declared_preprocessing(args)
    )
    path = write_sidecar(args.file, classifier)
    print(f"wrote {path}:\n{path.read_text()}", end="")
    return 0
