"""The row of controls on top of the live window: source, model folder, Start and Stop.

ControlBar turns its widgets into a SourceChoice and asks for a session (start_requested / stop_requested); it
runs nothing itself, so the window stays a view and SessionController does the work. Details the widgets do not
show (marker stream names, a BrainFlow board id and its parameters) are kept from the last set_choice() of the
same kind, so a session started from the command line can be restarted exactly as it was.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from eegviz.app.snr_control import SnrControl
from eegviz.app.source_choice import REPLAY_KINDS, SourceChoice
from eegviz.sources.xdf_chunks import XDF_SUFFIXES

# The source combo box: (kind, label). "xdf" asks for a file when picked; "lsl" shows a stream-name field.
SOURCE_ITEMS = (
    ("demo", "Demo recording"),
    ("xdf", "XDF file…"),
    ("simulator", "Simulator"),
    ("lsl", "LSL stream"),
    ("brainflow-synthetic", "BrainFlow synthetic board"),
)


MAX_SPEED = 10000.0  # the replay speed box's range, in multiples of real time (0: as fast as possible)
MIN_SPEED = 0.01  # its smallest non-zero step

class ControlBar(QWidget):
    """Source (with an XDF path, an LSL stream name or a replay speed as the kind needs), model folder, Start/Stop."""

    start_requested = Signal(object, str)  # SourceChoice, model folder ("" = the default model)
    stop_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._xdf_path: str | None = None
        self._source_index = 0
        self._choices: dict = {}  # kind -> the last SourceChoice set for it (keeps details the controls lack)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)

        lay.addWidget(QLabel("Source"))
        self.source_combo = QComboBox()
        for kind, text in SOURCE_ITEMS:
            self.source_combo.addItem(text, kind)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(12)
        self.source_combo.setToolTip("where the EEG comes from")
        self.source_combo.activated.connect(self._source_activated)  # user picks only: may open a file dialog
        self.source_combo.currentIndexChanged.connect(self._source_changed)
        lay.addWidget(self.source_combo)

        self.lsl_name_edit = QLineEdit()
        self.lsl_name_edit.setPlaceholderText("stream name (empty: first EEG stream)")
        self.lsl_name_edit.setMinimumWidth(110)  # the window fits an 800 px screen
        self.lsl_name_edit.setMaximumWidth(230)
        lay.addWidget(self.lsl_name_edit)

        self.speed_label = QLabel("speed")
        lay.addWidget(self.speed_label)
        self.speed_spin = QDoubleSpinBox()
        # wide and fine enough for any --speed a session was started with (0.25, 150): the box is what Start
        # replays at, so a value it cannot hold would change the next replay's speed
        self.speed_spin.setRange(0.0, MAX_SPEED)
        self.speed_spin.setDecimals(2)
        self.speed_spin.setSingleStep(0.5)
        self.speed_spin.setValue(1.0)
        self.speed_spin.setSuffix("×")
        self.speed_spin.setSpecialValueText("max")  # 0 = as fast as possible
        self.speed_spin.setToolTip("replay speed; 0 (max) = as fast as possible; takes effect at the next Start")
        self.speed_spin.setFixedWidth(88)
        lay.addWidget(self.speed_spin)
        self.snr_control = SnrControl()  # simulator only
        lay.addWidget(self.snr_control)

        lay.addSpacing(6)
        lay.addWidget(QLabel("Model"))
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("default model")
        self.model_edit.setMinimumWidth(70)
        self.model_edit.setMaximumWidth(420)
        self.model_edit.setToolTip("model folder (decoder + generator weights); empty = the default model")
        lay.addWidget(self.model_edit, 4)  # a long path needs the room more than the gap before Start
        self.model_browse_button = QToolButton()
        self.model_browse_button.setText("…")
        self.model_browse_button.setToolTip("choose a model folder")
        self.model_browse_button.clicked.connect(self._browse_model)
        lay.addWidget(self.model_browse_button)

        lay.addStretch(1)
        lay.addSpacing(6)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self._start_clicked)
        lay.addWidget(self.start_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        lay.addWidget(self.stop_button)
        self._source_changed(self.source_combo.currentIndex())

    def current_choice(self) -> SourceChoice:
        """The source the controls describe (see the module docstring for the details they keep)."""
        kind = self.source_combo.currentData()
        base = self._choices.get(kind)
        speed = float(self.speed_spin.value())
        if kind == "demo":
            return SourceChoice("demo", speed=speed)
        if kind == "xdf":
            if base is not None and base.path == self._xdf_path:
                return replace(base, speed=speed)
            return SourceChoice("xdf", path=self._xdf_path, speed=speed)
        if kind == "file":
            return replace(base, speed=speed)
        if kind == "lsl":
            return replace(base or SourceChoice("lsl"), name=self.lsl_name_edit.text().strip() or None)
        if kind == "simulator":
            return replace(base or SourceChoice(kind), snr_db=self.snr_control.value())
        return base or SourceChoice(kind)

    def set_choice(self, choice: SourceChoice | None) -> None:
        """Show a SourceChoice in the controls (no file dialog; an XDF choice brings its path)."""
        if choice is None:
            return
        kind = choice.kind
        if kind == "brainflow" and choice.board_id in (None, -1):
            kind = "brainflow-synthetic"
        if kind == "brainflow" and self.source_combo.findData("brainflow") < 0:
            self.source_combo.addItem("", "brainflow")  # a real board, from the command line
        if kind == "file" and self.source_combo.findData("file") < 0:
            # a recording only MNE or a plugin reads, from the command line: without its own item the combo
            # showed "Demo recording", and Start after a stop or the end replayed the demo instead of the file
            self.source_combo.addItem("", "file")
        if kind == "plugin" and self.source_combo.findData("plugin") < 0:
            # a live source plugin, from the command line (`live --source NAME`): its own item, so Start after a
            # stop runs it again
            self.source_combo.addItem("", "plugin")
        idx = self.source_combo.findData(kind)
        if idx < 0:
            return
        self._choices[kind] = choice
        if kind == "brainflow":
            self.source_combo.setItemText(idx, f"BrainFlow board {choice.board_id}")
        if kind == "file":
            self.source_combo.setItemText(idx, f"File: {Path(choice.path).name}")
            self.source_combo.setItemData(idx, str(choice.path), Qt.ItemDataRole.ToolTipRole)
        if kind == "plugin":
            self.source_combo.setItemText(idx, f"Plugin: {choice.name}")
        if kind == "xdf":
            self._set_xdf_path(choice.path)
        if kind == "lsl":
            self.lsl_name_edit.setText(choice.name or "")
        if kind in REPLAY_KINDS:
            speed = float(choice.speed)
            self.speed_spin.setValue(max(speed, MIN_SPEED) if speed > 0 else 0.0)  # a tiny speed is not "max"
        if kind == "simulator":
            self.snr_control.set_value(choice.snr_db)
        self.source_combo.setCurrentIndex(idx)
        self._source_index = idx

    def model_dir(self) -> str:
        return self.model_edit.text().strip()

    def set_model_dir(self, path: str | Path | None) -> None:
        self.model_edit.setText(str(path or ""))

    def set_session_state(self, state: str) -> None:
        """Enable the buttons that make sense: Start when idle, Stop while a session starts or runs."""
        busy = state in ("starting", "running")
        self.start_button.setEnabled(state == "idle")
        self.stop_button.setEnabled(busy)

    def _set_xdf_path(self, path: str | Path | None) -> None:
        self._xdf_path = str(path) if path else None
        idx = self.source_combo.findData("xdf")
        text = f"XDF: {Path(path).name}" if path else "XDF file…"
        self.source_combo.setItemText(idx, text)
        self.source_combo.setItemData(idx, str(path or ""), Qt.ItemDataRole.ToolTipRole)

    def _source_activated(self, index: int) -> None:
        """The user picked a source; XDF asks for the file (cancel keeps the previous choice)."""
        if self.source_combo.itemData(index) == "xdf":
            start = str(Path(self._xdf_path).parent) if self._xdf_path else ""
            # the names the XDF reader takes (plain and gzip-compressed), no more: it once listed .xdfz files the
            # reader then refused at Start
            patterns = " ".join(f"*{suffix}" for suffix in XDF_SUFFIXES)
            path, _ = QFileDialog.getOpenFileName(self, "Open an XDF recording", start,
                                                  f"XDF recordings ({patterns});;All files (*)")
            if path:
                self._set_xdf_path(path)
            elif not self._xdf_path:
                self.source_combo.setCurrentIndex(self._source_index)
                return
        self._source_index = self.source_combo.currentIndex()

    def _source_changed(self, index: int) -> None:
        kind = self.source_combo.itemData(index)
        replay = kind in REPLAY_KINDS
        shown = {self.lsl_name_edit: kind == "lsl", self.speed_label: replay, self.speed_spin: replay,
                 self.snr_control: kind == "simulator"}
        # Hide before showing: with the simulator's SNR box still there as the speed box appeared, the bar was
        # for a moment wider than an 800 px window, which grew to 856 px (off the screen) and stayed so.
        for widget, visible in sorted(shown.items(), key=lambda kv: kv[1]):
            widget.setVisible(visible)

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model_dir())
        if path:
            self.set_model_dir(path)

    def _start_clicked(self) -> None:
        self.start_requested.emit(self.current_choice(), self.model_dir())
