"""A figure file holds a drawn figure: a PNG of a sensible size, not blank, with data in colour."""

from pathlib import Path

import numpy as np


def assert_drawn(path: str | Path, min_pixels: int = 200, min_ink: float = 0.02, coloured: bool = True) -> None:
    """Fail unless ``path`` decodes as a PNG at least ``min_pixels`` on each side whose pixels
    differ from the background (its most common colour) in at least ``min_ink`` of the area and,
    if ``coloured``, that shows some colour (axes and text alone are grey; greyscale images of
    samples pass ``coloured=False``)."""
    from matplotlib import image

    pixels = image.imread(str(path))
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_pixels, f"{path}: {pixels.shape}"
    rgb = np.round(pixels[..., :3] * 255).astype(np.int32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    values, counts = np.unique(codes, return_counts=True)
    ink = 1 - counts.max() / codes.size
    assert ink >= min_ink, f"{path}: {ink:.3f} of the pixels drawn; blank?"
    if not coloured:
        return
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    coloured = (np.abs(r - g) > 30) | (np.abs(g - b) > 30) | (np.abs(r - b) > 30)
    assert coloured.mean() > 0.001, f"{path}: nothing but grey; no data drawn?"
