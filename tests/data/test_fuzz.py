"""Fuzzing the file readers: random and mutated files give a valid result or a one-line EegvizError, nothing else.

Each target starts from a small valid file in its real format (an XDF recording written by XdfWriter, a
THINGS-EEG2 np.save'd dict, an EEG-ImageNet torch.save'd dict) and flips bits, truncates, inserts and
overwrites bytes. Any other exception is a reader bug (the CLI would show a traceback), and every example runs
under an alarm so a hang fails too. Sizes and example counts keep the whole file well under a minute.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegviz.data.eeg_imagenet import load_eeg_imagenet
from eegviz.data.loaders import open_dataset
from eegviz.data.dataset import EEGDataset
from eegviz.data.things_eeg2 import load_things_eeg2
from eegviz.errors import EegvizError
from eegviz.record.xdf_writer import XdfWriter
from eegviz.sources.xdf import XdfSession, load_xdf_session

PER_EXAMPLE_S = 10  # far above any honest read of these tiny files
FUZZ = settings(max_examples=int(os.environ.get("EEGVIZ_FUZZ_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


class Hang(BaseException):
    """Raised by the alarm; a BaseException so readers' `except Exception` cannot hide it."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def ring(*_):
        raise Hang(f"reader still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(autouse=True)
def quiet():
    """Readers warn about truncated files on every example; the warnings are expected, not the point."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """`base` after 1-4 edits: bit flips, truncation, inserted, deleted or overwritten bytes."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos:pos + len(chunk)] = chunk
    return bytes(data)


def files(base: bytes):
    return st.one_of(mutated(base), st.binary(max_size=512), st.just(base[: len(base) // 2]))


def check(read, raw: bytes, path, accept):
    path.write_bytes(raw)
    try:
        with time_limit(PER_EXAMPLE_S):
            result = read()
    except EegvizError as e:
        msg = str(e)
        assert msg and "\n" not in msg, f"EegvizError is not one line: {msg!r}"
        return
    accept(result)


# -- XDF (replay's reader and the XDF dataset loader) ---------------------------------------------------------
def _xdf_bytes(folder) -> bytes:
    path = folder / "base.xdf"
    ts = 50.0 + np.arange(40) / 10.0
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", 2, 10.0, "float32", ch_names=["O1", "O2"], unit="microvolts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.arange(80, dtype=np.float32).reshape(40, 2), ts)
        w.write_samples(mk, ["a_1", "b_1", "a_2"], [50.5, 51.5, 52.5])
        w.write_clock_offset(eeg, 51.0, 0.001)
    return path.read_bytes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def xdf_base(folder):
    return _xdf_bytes(folder)


def _valid_session(s):
    assert isinstance(s, XdfSession)
    assert s.data.ndim == 2 and s.data.dtype == np.float32 and len(s.timestamps) == len(s.data)
    assert len(s.info.ch_names) == s.data.shape[1]


def test_xdf_base_file_is_valid(folder, xdf_base):
    (folder / "ok.xdf").write_bytes(xdf_base)
    s = load_xdf_session(folder / "ok.xdf")
    assert s.data.shape == (40, 2) and [m.payload for m in s.markers] == ["a_1", "b_1", "a_2"]


@FUZZ
@given(data=st.data())
def test_fuzz_xdf_session(folder, xdf_base, data):
    path = folder / "f.xdf"
    check(lambda: load_xdf_session(path), data.draw(files(xdf_base)), path, _valid_session)


@FUZZ
@given(data=st.data())
def test_fuzz_xdf_dataset(folder, xdf_base, data):
    images = folder / "images"
    if not images.is_dir():
        images.mkdir()
        for i in ("a_1", "a_2", "b_1"):
            (images / f"{i}.png").write_bytes(b"")
    path = folder / "d.xdf"
    check(lambda: open_dataset(path, images_dir=images, tmin=-0.1, tmax=0.3), data.draw(files(xdf_base)), path,
          lambda ds: isinstance(ds, EEGDataset))


# -- THINGS-EEG2 ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def things(folder):
    root = folder / "things"
    (root / "sub-01").mkdir(parents=True)
    d = {"preprocessed_eeg_data": np.arange(4 * 2 * 3 * 5, dtype=np.float32).reshape(4, 2, 3, 5),
         "ch_names": ["P1", "Pz", "P2"], "times": np.round(np.arange(-1, 4) / 10.0, 2)}
    for part in ("training", "test"):
        np.save(root / "sub-01" / f"preprocessed_eeg_{part}.npy", d)
    base = (root / "sub-01" / "preprocessed_eeg_training.npy").read_bytes()
    assert load_things_eeg2(root).eeg.shape == (16, 3, 5)
    return root, base


@FUZZ
@given(data=st.data())
def test_fuzz_things_eeg2(things, data):
    root, base = things
    path = root / "sub-01" / "preprocessed_eeg_training.npy"
    try:
        check(lambda: load_things_eeg2(root), data.draw(files(base)), path, lambda ds: isinstance(ds, EEGDataset))
    finally:
        path.write_bytes(base)


# -- EEG-ImageNet -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def imagenet(folder):
    path = folder / "base.pth"
    entries = [{"eeg": torch.arange(2 * 12, dtype=torch.float32).reshape(2, 12), "image": i % 2, "label": i % 2,
                "subject": 1} for i in range(4)]
    torch.save({"dataset": entries, "labels": ["n02106662", "n02124075"], "images": ["n02106662_1", "n02124075_2"]},
               path)
    assert load_eeg_imagenet(path, time_low=0, time_high=8).eeg.shape == (4, 2, 8)
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_fuzz_eeg_imagenet(folder, imagenet, data):
    path = folder / "f.pth"
    check(lambda: load_eeg_imagenet(path, time_low=0, time_high=8), data.draw(files(imagenet)), path,
          lambda ds: isinstance(ds, EEGDataset))
