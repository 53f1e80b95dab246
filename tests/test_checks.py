"""eegviz.checks: each check returns its value or raises one EegvizError line saying the rule."""

import pytest

from eegviz.checks import check_at_least, check_choice, check_file, check_positive, check_range
from eegviz.errors import EegvizError


def test_positive():
    assert check_positive(0.5, "--x") == 0.5
    assert check_positive(0, "--x", allow_zero=True) == 0
    with pytest.raises(EegvizError, match=r"^--x must be a finite number > 0$"):
        check_positive(0, "--x")
    with pytest.raises(EegvizError, match=r"^--hp must be a finite number >= 0 Hz \(0: off\)$"):
        check_positive(-1, "--hp", allow_zero=True, unit="Hz", hint="0: off")
    for bad in (float("nan"), float("inf"), -float("inf")):  # argparse's float() reads "nan" and "inf"
        with pytest.raises(EegvizError, match="finite"):
            check_positive(bad, "--x", allow_zero=True)


def test_at_least():
    assert check_at_least(1, "--subjects", 1) == 1
    with pytest.raises(EegvizError, match=r"^--seed must be >= 0, not -1$"):
        check_at_least(-1, "--seed", 0)


def test_range():
    assert check_range(1.0, "--s", 0, 1, low_open=True) == 1.0
    with pytest.raises(EegvizError, match=r"^--s must be in \(0, 1\]: why$"):
        check_range(0, "--s", 0, 1, low_open=True, hint="why")
    with pytest.raises(EegvizError, match=r"^--s must be in \[0, 1\)$"):
        check_range(1, "--s", 0, 1, high_open=True)
    with pytest.raises(EegvizError, match=r"^--s must be a finite number, not nan$"):
        check_range(float("nan"), "--s", 0, 1)


def test_choice():
    assert check_choice("info", "LEVEL", ("debug", "info")) == "info"
    with pytest.raises(EegvizError, match=r"^LEVEL='loud'; one of debug, info$"):
        check_choice("loud", "LEVEL", ("debug", "info"))


def test_file(tmp_path):
    f = tmp_path / "a.xdf"
    f.write_bytes(b"")
    assert check_file(str(f), "XDF file") == f
    with pytest.raises(EegvizError, match="XDF file .* does not exist; check the path"):
        check_file(tmp_path / "b.xdf", "XDF file")
    with pytest.raises(EegvizError, match="is a folder, not a file"):
        check_file(tmp_path, "XDF file")  # a folder is not a file (it used to be said not to exist)


def test_new_file_refuses_a_folder_it_cannot_write_in_before_the_run(tmp_path):
    """--screenshot into a folder that exists but refuses files was found only after the session's minutes, with
    a warning and exit 0; --out already got a write probe. sysfs refuses new files even to root."""
    from pathlib import Path

    from eegviz.checks import check_new_file

    assert check_new_file(tmp_path / "shot.png", "--screenshot") == tmp_path / "shot.png"
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs here")
    with pytest.raises(EegvizError, match=r"--screenshot /sys/kernel/shot\.png: cannot write in /sys/kernel"):
        check_new_file("/sys/kernel/shot.png", "--screenshot")


def test_check_compiler_asks_about_the_device_the_generator_picks(monkeypatch):
    """check_compiler(None) and a generator without a device resolve it by one rule (resolved_device): the C++
    compiler is asked for where the generator will run on the CPU, and only there. check_compiler wrote the
    rule again."""
    import torch
    from torch._inductor import cpp_builder
    from torch._inductor.exc import InvalidCxxCompiler

    from eegviz.checks import check_compiler
    from eegviz.devices import resolved_device

    def no_compiler():
        raise InvalidCxxCompiler()

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    assert resolved_device("cuda:1") == "cuda:1" and resolved_device("cpu") == "cpu"
    check_compiler("cuda")  # Triton kernels there: no C++ compiler asked for
    for cuda, device in ((True, "cuda"), (False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        assert resolved_device(None) == device
        if cuda:
            check_compiler(None)
        else:
            with pytest.raises(EegvizError, match=r"^--compile on the CPU needs a C\+\+ compiler"):
                check_compiler(None)
