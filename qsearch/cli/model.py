"""``qsearch model``: declare a model file's inputs in its sidecar, or materialise an adapter
over its base as a full model file for serving code."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import resize_mode, triple, whole
from qsearch.errors import QSearchError
from qsearch.images import INTERPOLATIONS

NAME = "model"
HELP = "describe a model file's inputs (M.json), or export an adapter with its base as one file"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch model``."""
    parser.add_argument(
        "action",
        choices=("describe", "export"),
        help="describe: write M.json beside the model file M; export: write the adapter FILE "
        "applied to its base as one model file (--out)",
    )
    parser.add_argument(
        "file",
        type=Path,
        help="describe: a TorchScript (.pt), torch.export (.pt2) or ONNX (.onnx) file; "
        "export: an adapter (.safetensors)",
    )
    parser.add_argument(
        "--model", help="export: the adapter's base, where the base it names is not here"
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="export: the base's state-dict file (timm/ARCH, torchvision/ARCH)",
    )
    parser.add_argument(
        "--out", type=Path, help="export: FILE.pt (TorchScript) or FILE.onnx, its M.json beside it"
    )
    parser.add_argument("--overwrite", action="store_true", help="export: replace --out")
    parser.add_argument("--mean", type=triple, help="input normalisation mean R,G,B in 0..1")
    parser.add_argument("--std", type=triple, help="input normalisation std R,G,B in 0..1")
    parser.add_argument("--input-size", type=whole(8), help="network input side in pixels")
    parser.add_argument(
        "--resize",
        type=resize_mode,
        help="short side before the centre crop, or letterbox, letterbox-centre, stretch",
    )
    parser.add_argument("--interpolation", choices=tuple(INTERPOLATIONS), help="resize filter")


def run(args) -> int:
    """Write the input declaration a model file is used with, or the exported model."""
    from qsearch.cli.build import declaration

    if not args.file.is_file():
        raise QSearchError(f"{args.file}: no such file")
    if args.action == "export":
        return _export(args, declaration(args))
    if _describe_task(args.file):
        return 0
    from qsearch.models import load_classifier, write_sidecar

    classifier = load_classifier(
        str(args.file), device="cpu", declared=declaration(args)
    )
    path = write_sidecar(args.file, classifier)
    print(f"wrote {path}:\n{path.read_text()}", end="")
    return 0


def _describe_task(path: Path) -> bool:
    """A detector's or segmenter's sidecar (it names its task): checked and said, not
    rewritten (its keys are the task's declaration)."""
    from qsearch.models.sidecar import read_declaration, sidecar_path
    from qsearch.tasks.declaration import declared_steps
    from qsearch.tasks.task import TASKS

    task = read_declaration(path).get("task")
    if task is None or task not in TASKS or not TASKS[task].declared:
        return False
    spec, head = declared_steps(path, task)
    print(f"{sidecar_path(path)}: a complete {task} declaration: input {spec.describe()}; "
          f"output {head.describe()}")  # fmt: skip
    return True


def _export(args, declared: dict) -> int:
    """The adapter applied to its base, written as TorchScript or ONNX with its sidecar."""
    from qsearch.atomic import check_new_file
    from qsearch.models.adapter import AdapterFile
    from qsearch.tasks.task import TASKS

    if args.out is None or args.out.suffix not in (".pt", ".onnx"):  # a task's: .onnx only
        raise QSearchError.about(f"{{out}} {args.out}: give FILE.pt (TorchScript) or FILE.onnx")
    check_new_file(args.out, args.overwrite)
    task = TASKS[AdapterFile.read(args.file).task]
    path, what = task.export_adapted(args.file, args.out, args.model, args.weights, declared)
    print(f"wrote {path} and {path.name}.json ({what})")
    return 0
