"""`eegviz train` under torchrun with 2 CPU processes (gloo on loopback): both ranks train, stay in sync,
and only rank 0 writes the model."""

import json
import os
import socket
import subprocess
import sys

from eegviz.data.synthetic import simulate_dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes(tmp_path):
    data = simulate_dataset(tmp_path / "data", subjects=1, n_per_class=4)
    model = tmp_path / "model"
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           "-m", "eegviz", "train", "--data", str(data), "--out", str(model), "--epochs", "2", "--gan-steps", "4",
           "--text-encoder", "hash", "--threads", "1", "--no-eval-controls", "--decoder-only"]
    # --decoder-only: the generator is trained by rank 0 alone, in code no rank shares (tests/train/
    # test_train_run.py and test_train_diffusers_run.py train it); rank 1 still waits at the barrier while rank
    # 0 saves and evaluates the decoder
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    training = json.loads((model / "training.json").read_text())
    assert training["world_size"] == 2
    assert training["ranks_in_sync"] is True
    assert all(len(v) == 2 for v in training["rank_digests"].values())
    assert (model / "eeg_encoder" / "config.json").exists() and (model / "report" / "metrics.json").exists()
    assert not (model / "model_index.json").exists() and "--decoder-only" in training["generator"]["skipped"]
