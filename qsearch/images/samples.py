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
