"""`eegviz bench` writes the JSON the issue asks for; the SD section runs on a toy config on CPU."""

import json

import pytest
import torch

from eegviz.cli import main


def test_bench_json_with_toy_sd_section(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--n", "12", "--sd-arch", "tiny", "--sd-n", "3", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    lat = r["latency_ms"]["epoch_to_image"]
    assert lat["n"] == 12 and 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert set(r["throughput"]) == {"batch1_images_per_s", "batch4_images_per_s", "batch8_images_per_s"}
    assert r["peak_rss_mb"] > 50
    sd = r["sd_img2img"]
    assert sd["arch"] == "tiny" and sd["device"] == "cpu"
    assert set(sd["latency_ms"]) == {"eegviz_1step_tinyvae_compiled", "plain_diffusers_1step_fullvae",
                                     "neuroimagen_4step_cfg_fullvae"}
    # 4 steps with guidance (2 UNet passes each) must cost more than one step
    assert sd["speedup_vs_4step"] > 1.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_bench_cuda_without_gpu_is_one_clear_error(capsys):
    assert main(["bench", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "Traceback" not in err
