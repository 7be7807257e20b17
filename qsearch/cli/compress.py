"""``qsearch compress``: a folder of JPEGs carrying a table (:func:`qsearch.codecs.compress.compress`)."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.build import (
    encoder_settings,
)
from qsearch.cli.options import (
    add_encoder_arguments,
)
from qsearch.tables.qtable import QTable

NAME = "compress"
HELP = "write a folder of JPEGs with a table"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch compress``."""
    parser.add_argument(
        "--qtable", type=Path, required=True, help="cjpeg -qtables text file or JSON table pair"
    )
    parser.add_argument("src", type=Path, help="an image or a folder of images (never modified)")
    parser.add_argument(
        "dst", type=Path, help="destination folder, outside SRC (FILE.jpg per source file)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="an unreadable image is fatal instead of skipped"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files already in DST (without it, any existing target is refused first)",
    )
    parser.add_argument(
        "--strip",
        action="store_true",
        help="leave out EXIF and the ICC profile (kept by default, orientation tag included)",
    )
    add_encoder_arguments(parser)


def run(args) -> int:
    """Write every image of SRC as a JPEG carrying the table (SRC is never touched)."""
    from qsearch.codecs.compress import compress

    done = compress(
        QTable.load(args.qtable),
        args.src,
        args.dst,
        settings=encoder_settings(args),
        strip=args.strip,
        strict=args.strict,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {len(done.written)} JPEG file(s) to {args.dst} ({len(done.skipped)} skipped), "
        f"folder layout kept, pixels as stored; kept EXIF on {done.kept_exif} and an ICC profile "
        f"on {done.kept_icc}" + (" (--strip)" if args.strip else "")
    )
    return 0
