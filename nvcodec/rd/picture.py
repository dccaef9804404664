"""A picture to look at before the numbers: one frame side by side (source | codecs), and below
each the same zoomed crop, where the source has the most detail."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..io import write_atomic

LABEL_HEIGHT = 14


def detail_crop(frame: np.ndarray, fraction: float = 0.5) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the window of ``fraction`` of the frame's sides with the
    most detail (sum of absolute luma gradients): where a codec's losses show first."""
    h, w = frame.shape[:2]
    ch, cw = max(1, int(h * fraction)), max(1, int(w * fraction))
    luma = frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    detail = np.zeros((h, w))
    detail[:, 1:] += np.abs(np.diff(luma, axis=1))
    detail[1:, :] += np.abs(np.diff(luma, axis=0))
    table = np.pad(detail.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table
    sums = table[ch:, cw:] - table[:-ch, cw:] - table[ch:, :-cw] + table[:-ch, :-cw]
    top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return int(top), int(left), ch, cw


def _zoom(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize (every pixel a block: the codec's artefacts, not a filter's)."""
    rows = np.arange(height) * image.shape[0] // height
    cols = np.arange(width) * image.shape[1] // width
    return image[rows][:, cols]


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """uint8 RGB image: a row of labelled frames (H, W, 3 each, same size), and under them the
    same ``crop`` (default: ``detail_crop`` of the first) zoomed to the frame's size."""
    from PIL import Image, ImageDraw

    h, w = panels[0][1].shape[:2]
    top, left, ch, cw = crop or detail_crop(panels[0][1])
    canvas = np.full((2 * h + LABEL_HEIGHT, len(panels) * w, 3), 255, np.uint8)
    for i, (_, frame) in enumerate(panels):
        x = i * w
        canvas[LABEL_HEIGHT:LABEL_HEIGHT + h, x:x + w] = frame
        canvas[LABEL_HEIGHT + h:, x:x + w] = _zoom(frame[top:top + ch, left:left + cw], h, w)
        # the crop's outline on the full frame
        box = canvas[LABEL_HEIGHT + top:LABEL_HEIGHT + top + ch, x + left:x + left + cw]
        box[[0, -1], :] = (255, 0, 0)
        box[:, [0, -1]] = (255, 0, 0)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i, (label, _) in enumerate(panels):
        draw.text((i * w + 3, 1), label, fill=(0, 0, 0))
    return np.asarray(image)


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``image`` as a PNG, atomically."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    write_atomic(path, buf.getvalue())
