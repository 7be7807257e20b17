"""The argument groups several commands share: images and labels, the network and its inputs,
and the encoder settings every table is compared under."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import names_list, resize_mode, triple, whole
from qsearch.codecs.codec import SUBSAMPLINGS
from qsearch.codecs.encoders import ENCODERS
from qsearch.codecs.sizes import SIZE_HELP, check_size
from qsearch.images import COMPRESS_AT, INTERPOLATIONS, LABEL_RULES
from qsearch.tasks.task import task_names

SMALLEST_HELP = (
    "per image, the smaller of an optimised baseline and a progressive file (same pixels)"
)
FAMILY_HELP = (
    "ijg (default), mozjpeg-0..8 (mozjpeg's cjpeg -quant-table presets), deepn (fitted to the "
    "images' DCT statistics) or a table file"
)


def size_setting(text: str) -> str:
    """``--size``: stored, network, long:N or short:N (a comma list for qsearch baseline)."""
    import argparse

    from qsearch.errors import QSearchError

    for part in text.split(","):
        try:
            check_size(part.strip())
        except QSearchError:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not stored, network, long:N or short:N (N at least 8)"
            ) from None
    return ",".join(part.strip() for part in text.split(","))


def add_encoder_arguments(parser) -> None:
    """Lossless encoder settings, identical for every table compared."""
    encoder = parser.add_argument_group("encoder settings (identical for every table compared)")
    encoder.add_argument(
        "--subsampling",
        choices=SUBSAMPLINGS,
        default="4:2:0",
        help="chroma subsampling (default 4:2:0)",
    )
    encoder.add_argument("--optimize", action="store_true", help="optimised Huffman tables")
    encoder.add_argument("--progressive", action="store_true", help="progressive files")
    encoder.add_argument("--smallest", action="store_true", help=SMALLEST_HELP)
    encoder.add_argument("--size", type=size_setting, default="stored", help=SIZE_HELP)
    encoder.add_argument(
        "--codec",
        default="jpeg",
        help=f"encoder: {', '.join(ENCODERS.names())} (jpeg: libjpeg-turbo, the default; jpeg and "
        "mozjpeg take tables, the others a quality; qsearch list says each); baseline takes a "
        "comma list (the codec ladder)",
    )


def add_held_out_arguments(group) -> None:
    """Where a run's front is re-scored: a split of --split-file or a folder of its own."""
    group.add_argument("--test-split", help="re-score the front on this split of --split-file")
    group.add_argument(
        "--test-data",
        type=Path,
        metavar="DIR",
        help="re-score the front on this folder of held-out images instead (e.g. val2017 "
        "beside train2017; no image may be one of --data's)",
    )
    group.add_argument(
        "--test-annotations",
        type=Path,
        metavar="DIR",
        help="with --test-data and --task detect/segment: the held-out images' labels",
    )


def add_data_arguments(parser, several_folders: bool = False) -> None:
    """Images, labels, the network and how it wants its inputs (``several_folders``: ``--data``
    takes one folder or more)."""
    group = parser.add_argument_group("images")
    group.add_argument(
        "--data",
        type=Path,
        nargs="+" if several_folders else None,
        help="image folder"
        + ("s" if several_folders else "")
        + " (default: the photographs bundled with scikit-image)",
    )
    group.add_argument("--split-file", type=Path, help="JSON file of named lists of image names")
    group.add_argument("--split", help="which list of --split-file to use")
    group.add_argument("--limit", type=whole(1), help="use only the first N images")
    group.add_argument(
        "--labels",
        choices=LABEL_RULES,
        default="auto",
        help="where labels come from: folders (one subfolder per class), imagenet (nSYNSET_* "
        "file names), none, or auto (folders if there are subfolders, imagenet if most "
        "files are so named, else none); the rule used is printed and recorded",
    )
    group.add_argument(
        "--class-map",
        type=Path,
        metavar="FILE",
        help="JSON object class-folder -> network output index, for folders ordered otherwise "
        "(--task detect: label class -> network class)",
    )
    group.add_argument(
        "--compress-at",
        choices=COMPRESS_AT,
        help="compress the network-sized crop (input, the default to classify) or the stored "
        "image (source, the default and only choice to detect and segment)",
    )
    group.add_argument(
        "--annotations",
        type=Path,
        metavar="PATH",
        help="--task detect: a folder of YOLO label files (NAME.txt: class cx cy w h) or a COCO "
        "instances JSON file; "
        "--task segment: a folder of PNG class-index masks (NAME.png); without it, figures "
        "against the network's own output on the uncompressed images only",
    )
    group.add_argument(
        "--strict",
        action="store_true",
        help="an unreadable or unlabelable image is fatal instead of skipped",
    )
    model = parser.add_argument_group("network")
    model.add_argument(
        "--task",
        choices=task_names(),
        default="classify",
        help="classify (default), detect (COCO mAP, --annotations YOLO labels), segment (mean "
        "IoU, --annotations PNG masks) or a plugin's task (qsearch list); a task's networks are "
        "model files whose input and output are declared in M.json or with --declare",
    )
    model.add_argument(
        "--declare",
        action="append",
        metavar="KEY=VALUE",
        help="the network's declaration, overriding M.json, for every task (repeat; @FILE reads "
        "a JSON object of them): input_size, resize (N: short side N then a centre crop; "
        "letterbox, letterbox-centre, stretch), pad, interpolation, mean, std; a declared "
        "task's channels (rgb, bgr), scale, layout (nchw, nhwc), output (yolox, yolov5, "
        "yolov8, boxes; logits, probability), classes, strides, score_threshold, nms_iou, "
        "threshold",
    )
    model.add_argument(
        "--evaluator",
        default="classifier",
        help="classifier (a frozen network, default) or fidelity (PSNR/SSIM, no network)",
    )
    model.add_argument(
        "--model",
        help="efficientnet_lite0 (default), efficientnet_lite1/2 (extra packages), "
        "timm/ARCH or torchvision/ARCH with --weights, or a model file "
        "(TorchScript .pt, torch.export .pt2, ONNX .onnx, TFLite .tflite with --task, or a "
        "plugin's format: qsearch list) with an optional M.json",
    )
    model.add_argument(
        "--weights", type=Path, help="state-dict file for a timm/ARCH or torchvision/ARCH model"
    )
    model.add_argument(
        "--adapter",
        type=Path,
        metavar="FILE",
        help="an adapter written by qsearch adapt (.safetensors), applied to --model or, without "
        "--model, to the base it names; refused on a base with other weights",
    )
    model.add_argument(
        "--networks",
        type=names_list,
        help="judge every table on several networks at once, e.g. "
        "efficientnet_lite0,efficientnet_lite1 (each with its own inputs; replaces --model)",
    )
    model.add_argument(
        "--combine",
        choices=("worst", "mean"),
        default="worst",
        help="with --networks: a table keeps the mean uncompressed accuracy minus the worst "
        "(default) or the mean of the networks' losses",
    )
    model.add_argument(
        "--mean",
        type=triple,
        help="input mean R,G,B after the declared scale (0..1 for a classifier): --declare "
        "mean=[R,G,B]",
    )
    model.add_argument(
        "--std",
        type=triple,
        help="input std R,G,B after the declared scale (0..1 for a classifier): --declare "
        "std=[R,G,B]",
    )
    model.add_argument(
        "--input-size", type=whole(8), help="network input side in pixels: --declare input_size=N"
    )
    model.add_argument(
        "--resize",
        type=resize_mode,
        help="short side before the centre crop, or letterbox, letterbox-centre, stretch: "
        "--declare resize=...",
    )
    model.add_argument(
        "--interpolation",
        choices=tuple(INTERPOLATIONS),
        help="resize filter: --declare interpolation=...",
    )
    model.add_argument(
        "--device", help="torch device, e.g. cpu or cuda:1 (default: cuda when present, else cpu)"
    )
    model.add_argument(
        "--batch-size", type=whole(1), default=50, help="images per forward pass (default 50)"
    )
    model.add_argument(
        "--forward",
        default="auto",
        choices=("auto", "fp32", "onnx", "bf16", "fp16", "compile", "compile-bf16"),
        help="forward path: auto (fastest within half a point of fp32 top-1, default), fp32 (exact)",
    )
    add_encoder_arguments(parser)
