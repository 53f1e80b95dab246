"""The window's image widgets: a captioned image panel, a label that elides instead of widening, the history strip.

They only draw what they are given (numpy images, texts, Reconstructions) and know nothing about sessions or
layouts, so the live window and the kiosk build the same panels at different sizes.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from eegviz.app.images import to_pixmap
from eegviz.app.verdict import verdict
from eegviz.messages import Reconstruction

HISTORY_LEN = 8
HISTORY_PX = 96


class ImagePanel(QWidget):
    """A fixed-size image with a caption underneath, and under that one line naming what it shows (the marker's
    image id: set_detail); shows a placeholder text while it has no image."""

    def __init__(self, caption: str, size: int, caption_pt: int = 11, placeholder: str = "—", parent=None):
        super().__init__(parent)
        self._size = size
        self._placeholder = placeholder
        self.image_label = QLabel(placeholder)
        self.image_label.setFixedSize(size, size)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setStyleSheet("background: #202020; color: #909090; font-size: %dpt;" % max(caption_pt, 12))
        self.image_label.setWordWrap(True)  # a text in place of the image ("no --images-dir given") stays inside
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # wrapped, a caption never makes its panel wider than the image: on an 800 px kiosk screen "stimulus
        # (ground truth)" at 14 pt did, and the layout took the width from the reconstruction, cutting off 12% of it
        self.caption.setWordWrap(True)
        font = self.caption.font()
        font.setPointSize(caption_pt)
        self.caption.setFont(font)
        # Which stimulus the image belongs to: only the status bar named a class, so a viewer could not tell which
        # marker a reconstruction was made for, nor whether the three panels showed the same epoch. One line,
        # elided (in full as its tooltip), and always there, blank or not, so the panel's height never changes.
        self.detail = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setFont(font)
        self.detail.setStyleSheet("color: #808080;")
        self.detail.setFixedHeight(self.detail.fontMetrics().height())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.image_label, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.caption)
        lay.addWidget(self.detail)

    def set_image(self, image: np.ndarray | None, text_if_none: str | None = None, tip: str = "") -> None:
        """Show image, or without one text_if_none (else the placeholder); tip is the image area's tooltip."""
        self._image = image
        self.image_label.setToolTip(tip)
        if image is None:
            self.image_label.clear()
            # wrapped at spaces only (a word joiner after each hyphen): "--images-dir" broke as "--images-" "dir"
            self.image_label.setText((text_if_none or self._placeholder).replace("-", "-\u2060"))
        else:
            self.image_label.setPixmap(to_pixmap(image, self._size, self.devicePixelRatioF()))

    def set_detail(self, text: str) -> None:
        """The line under the caption: what the image shows (a marker's image id), or what the panel waits for."""
        self.detail.setText(text)

    def detail_text(self) -> str:
        return self.detail.full_text()

    def set_size(self, size: int) -> None:
        """Resize the square image area (kiosk mode fits the panels to the screen) and redraw what it shows."""
        if size == self._size or size < 16:
            return
        self._size = size
        self.image_label.setFixedSize(size, size)
        if getattr(self, "_image", None) is not None:
            self.image_label.setPixmap(to_pixmap(self._image, size, self.devicePixelRatioF()))

    def height_for(self, size: int) -> int:
        """The panel's height with a size x size image: its caption wraps to that width, so a long one ("stimulus
        (ground truth)") takes more lines the smaller the panel."""
        m, spacing = self.layout().contentsMargins(), self.layout().spacing()
        detail = 0 if self.detail.isHidden() else spacing + self.detail.height()
        return m.top() + m.bottom() + spacing + size + self.caption.heightForWidth(size) + detail

    def shown_text(self) -> str:
        """The text shown in place of an image ("" while an image is shown), as it was given."""
        return self.image_label.text().replace("\u2060", "")

    def pixmap(self) -> QPixmap:
        return self.image_label.pixmap()


class ElidedLabel(QLabel):
    """A one-line label that never asks for more width: text that does not fit is elided, the full text is the tooltip.

    text() is what is shown (possibly ending in "…"); full_text() is what was set.
    """

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, parent=None):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        self._full = str(text or "")
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # A style sheet that makes the text bold (the window's errors) comes after the text was elided in the
        # regular font: drawn bold it ran past the label, cut off with no "…" to say there was more.
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, self._mode, width) if width > 0 else self._full
        QLabel.setText(self, shown)


class HistoryStrip(QWidget):
    """The last HISTORY_LEN reconstructions in a row, newest on the left, each captioned with the decoded class.

    It never asks for more width than it is given: the HISTORY_LEN thumbnails need 810 px, which widened the window
    past a 768 or 800 px wide screen at a session's 8th image (and kept it from being made narrower); the oldest
    that do not fit are hidden instead. Iterating (and len()) gives the item widgets, newest first, shown or not;
    each holds the image label and the caption.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: deque[QWidget] = deque()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addStretch(1)  # items are inserted before this stretch, newest on the left

    def minimumSizeHint(self):  # noqa: N802 (Qt name)
        """Nothing: the window hides the strip where it has no room (MainWindow._fit_parts), and its thumbnails'
        height, counted in the window's minimum while shown, refused a resize from a tall window straight to a
        short one (1280 x 860 to 800 x 480 became 800 x 504, the status bar below an 800 x 480 screen)."""
        return QSize(0, 0)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def push(self, rec: Reconstruction) -> None:
        item = QWidget()
        lay = QVBoxLayout(item)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        img = QLabel()
        img.setFixedSize(HISTORY_PX, HISTORY_PX)
        img.setAlignment(Qt.AlignmentFlag.AlignCenter)
        img.setPixmap(to_pixmap(rec.image, HISTORY_PX, self.devicePixelRatioF()))
        # The decoded class (what eegviz read), marked hit/miss when the stimulus is known; the marker's own
        # id is in the tooltip. Long texts are elided rather than widening the strip.
        text, colour = verdict(rec)
        cap = QLabel()
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap.setFixedWidth(HISTORY_PX)
        cap.setToolTip(f"decoded {rec.decoded.top_class or '?'} for stimulus {rec.marker.payload}")
        if colour:
            cap.setStyleSheet(f"color: {colour};")
        cap.setText(cap.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, HISTORY_PX))
        lay.addWidget(img)
        lay.addWidget(cap)
        self._layout.insertWidget(0, item)
        self.items.appendleft(item)
        while len(self.items) > HISTORY_LEN:
            self._drop_oldest()
        self._show_fitting()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._show_fitting()

    def _show_fitting(self) -> None:
        """Show the newest items that fit the strip's width, hide the rest."""
        gap = self._layout.spacing()
        fits = (self.width() + gap) // (HISTORY_PX + gap)
        for i, item in enumerate(self.items):
            item.setVisible(i < fits)

    def clear(self) -> None:
        while self.items:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self.items.pop()
        self._layout.removeWidget(old)
        old.setParent(None)
        old.deleteLater()
