"""The simulator's signal strength in the window: how much signal does reconstruction need?

Shown next to the source picker when the source is the simulator. Unchecked, the simulator is the demo world
(far easier than real EEG, see eegviz.world.sim_config); checked, its class-discriminative SNR is set to the
value in dB, at first the realistic preset's (-24 dB; it offered -21, the preset's first calibration, which a
decoder trained on averages decodes far above real EEG's range). It applies when a session starts: press Start (or
Stop, then Start) after changing it. A widget of its own so the control bar gains one line per hook.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QWidget

from eegviz.world.sim_config import MAX_CLASS_SNR_DB, REALISTIC

DEFAULT_DB = REALISTIC.class_snr_db  # the realistic preset's
# The least the window's simulator (SourceChoice "simulator": subject 0, seed 0) reaches: -36.78 dB with its class
# components off, measured by EEGSimulator.calibrate_class_snr, up to the box's 0.1 dB step. The box went down to
# -40 dB, and a value below this was refused only at Start ("below the least this simulated world reaches"),
# after the model had loaded. Measuring it takes a second or two, too long for the GUI thread, hence a number;
# tests/app/test_repeats_and_snr.py starts the simulator at it.
MIN_DB = -36.7


class SnrControl(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.check = QCheckBox("class SNR")
        self.check.setToolTip("simulator: set the class-discriminative SNR (unchecked: the demo world, far "
                              f"easier than real EEG; the realistic preset: {DEFAULT_DB:g} dB; {MIN_DB:g} to "
                              f"{MAX_CLASS_SNR_DB:g} dB); applies on Start")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(MIN_DB, MAX_CLASS_SNR_DB)  # all the simulator takes: live --class-snr-db fills it
        self.spin.setDecimals(1)
        self.spin.setSingleStep(1.0)
        self.spin.setValue(DEFAULT_DB)
        self.spin.setSuffix(" dB")
        self.spin.setFixedWidth(84)
        self.spin.setEnabled(False)
        self.check.toggled.connect(self.spin.setEnabled)
        lay.addWidget(self.check)
        lay.addWidget(self.spin)

    def value(self) -> float | None:
        """The SNR to simulate, or None for the demo world."""
        return float(self.spin.value()) if self.check.isChecked() else None

    def set_value(self, db: float | None) -> None:
        self.check.setChecked(db is not None)
        if db is not None:
            self.spin.setValue(float(db))
