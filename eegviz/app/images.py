"""numpy images -> what Qt paints: the app's one place that turns arrays into uint8 RGB and into QPixmaps.

Images reach the window in several forms (uint8 reconstructions, float saliency maps in [0, 1], grayscale,
RGBA); every panel and history item goes through to_pixmap so they are all converted the same way. The float
-> uint8 step is eegviz.generators.base.to_uint8, the generators' own rounding, applied in float32.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from eegviz.generators.base import to_uint8


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (saliency) become uint8; grayscale is broadcast to RGB; alpha is dropped."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = to_uint8(arr.astype(np.float32))
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] > 3:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def to_pixmap(image: np.ndarray, size: int, dpr: float = 1.0) -> QPixmap:
    """numpy (H, W, 3) -> QPixmap scaled smoothly to fit size x size (keeps aspect ratio).

    dpr: the screen's device pixels per logical pixel (QWidget.devicePixelRatioF()). The pixmap gets size * dpr
    pixels and says so: a size-pixel copy was blown up again by a 2x (HiDPI) screen, so a 256 px reconstruction
    shown 210 px wide was drawn from 210 pixels instead of its own 256, blurred.
    The QImage is copied because QImage only borrows the numpy buffer, which may be freed before painting.
    """
    arr = to_uint8_rgb(image)
    h, w = arr.shape[:2]
    qimg = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    px = max(1, round(size * dpr))
    pixmap = QPixmap.fromImage(qimg).scaled(
        px, px, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    pixmap.setDevicePixelRatio(dpr)
    return pixmap
