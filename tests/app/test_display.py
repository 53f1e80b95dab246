"""A window asked for where there is no display: one line and exit 2, not Qt's abort."""

import os
import subprocess
import sys

import pytest

from eegviz.app.display import check_display
from eegviz.errors import EegvizError

NO_DISPLAY = ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_display_is_refused_and_any_sign_of_one_is_left_to_qt(no_display):
    with pytest.raises(EegvizError, match=r"^no display to open the window on \(neither DISPLAY nor WAYLAND_DISPLAY "
                                          r"is set: .*\); do this$"):
        check_display("the window", "do this")
    for name, value in (("DISPLAY", ":0"), ("WAYLAND_DISPLAY", "wayland-0"), ("QT_QPA_PLATFORM", "eglfs")):
        no_display.setenv(name, value)
        check_display("the window", "do this")  # Qt decides
        no_display.delenv(name)
    no_display.setattr(sys, "platform", "darwin")
    check_display("the window", "do this")  # a macOS or Windows desktop always has one


@pytest.mark.parametrize("command, what", [("demo", "the window"), ("present", "the presenter")])
def test_a_window_command_without_a_display_says_so_in_one_line(tmp_path, command, what):
    """Over SSH without X forwarding, `eegviz demo` loaded the model and then Qt printed its multi-line "could not
    load the Qt platform plugin" text and aborted the interpreter (exit 134, a core dump)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the check is Linux's")
    argv = [command]
    if command == "present":
        from eegviz.app.presenter.stimulus_folder import write_stimulus_folder

        write_stimulus_folder(tmp_path / "stim")
        argv.append(str(tmp_path / "stim"))
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    done = subprocess.run([sys.executable, "-m", "eegviz", *argv], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"eegviz: error: no display to open {what} on (neither DISPLAY "
                                                   "nor WAYLAND_DISPLAY is set"), lines
