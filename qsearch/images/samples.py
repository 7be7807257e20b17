"""The embedded default image set: natural photographs bundled with scikit-image, so the
quick start works anywhere without downloads (label-free agreement mode)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
)


def sample_photos() -> list[Path]:
    """Paths of the bundled photographs that this scikit-image installation has."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    return [folder / name for name in SAMPLE_PHOTOS if (folder / name).is_file()]


def write_sample_folders(folder: Path | str) -> tuple[Path, Path]:
    """The bundled photographs copied into ``folder/calibrate`` (every other one) and
    ``folder/send`` (the rest): two disjoint folders for the demo's per-image rate control,
    calibrated on some images and judged on others. Files already there are kept."""
    import shutil

    folder = Path(folder)
    halves = (folder / "calibrate", folder / "send")
    for half in halves:
        half.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(sample_photos()):
        target = halves[index % 2] / path.name
        if not target.exists():
            shutil.copyfile(path, target)
    return halves


if __name__ == "__main__":
    import sys

    for made in write_sample_folders(sys.argv[1] if len(sys.argv) > 1 else "runs/demo/photos"):
        print(f"{made}: {len(list(made.iterdir()))} photographs")
