"""The kernel thread count inference runs with: all cores but one by default, an explicit count or
OMP_NUM_THREADS winning, and the process's count restored after the block."""

import pytest
import torch

from eegviz.threads import inference_thread_count, inference_threads


@pytest.fixture
def torch_default_four(monkeypatch):
    """A machine where torch would use 4 kernel threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 1), (3, 2), (5, 4), (16, 4)])
def test_inference_leaves_a_core_and_never_exceeds_torch(torch_default_four, monkeypatch, cores, expected):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert inference_threads() == expected


def test_an_explicit_count_or_the_environment_wins(torch_default_four, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert inference_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # the user set it: torch read it, and it stands
    assert inference_threads() == 4


def test_the_count_holds_inside_the_block_and_is_restored(torch_default_four, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with inference_thread_count() as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4
    with pytest.raises(RuntimeError), inference_thread_count(2):
        raise RuntimeError("a session that fails")
    assert torch.get_num_threads() == 4
