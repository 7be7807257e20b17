"""``qsearch cache``: show or empty the prepared-image cache."""

from __future__ import annotations

NAME = "cache"
HELP = "show (show, info) or empty (clear) the prepared-image cache"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch cache``."""
    parser.add_argument(
        "action",
        choices=("show", "info", "clear"),
        help="show (or info): what is cached; clear: remove it all",
    )


def run(args) -> int:
    """Show or empty the prepared-image cache."""
    from qsearch.images.cache import ImageCache

    cache = ImageCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} prepared image set(s) from {cache.folder}")
        return 0
    entries = cache.entries()
    total = sum(e.bytes for e in entries)
    print(
        f"{cache.folder}: {len(entries)} prepared image set(s), {total / 2**20:.1f} MiB "
        f"of a {cache.limit / 2**30:.1f} GiB limit (QSEARCH_CACHE, QSEARCH_CACHE_LIMIT)"
    )
    for entry in reversed(entries):
        index = entry.index
        print(
            f"  {entry.key[:12]}  {len(index.get('names', [])):>5} images  {entry.bytes / 2**20:8.1f} MiB  "
            f"{index.get('compress_at', '?'):<6} {index.get('folder', '?')}"
        )
    return 0
