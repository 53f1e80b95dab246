"""Does bfloat16 speed up the shipped generator on a CPU with AVX512-BF16? The same model built in float32 and in
bfloat16, eager, batch 1, two kernel threads: 40 timed images after 5 warm-ups each, and how far apart the two
images are. Run from the repository root: `python benchmarks/bf16/time_bf16.py > benchmarks/bf16/RESULT.json`."""

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator, read_sampling
from eegviz.sysinfo import cpu_model
from eegviz.threads import inference_thread_count

MODEL = Path(__file__).resolve().parents[2] / "models" / "synthetic-default"


def main() -> None:
    sampling = read_sampling(MODEL)
    rng = np.random.default_rng(0)
    saliency = rng.random((1, 32, 32, 3)).astype(np.float32)
    embedding = rng.normal(0, 0.1, (1, 16, 384)).astype(np.float32)
    result = {"cpu": cpu_model(), "platform": platform.platform(), "torch": torch.__version__,
              "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": 2}
    images = {}
    with inference_thread_count(2):
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
            gen = DiffusersImg2ImgGenerator(str(MODEL), steps=sampling["steps"], strength=sampling["strength"],
                                            guidance=sampling.get("guidance"), family="native",
                                            size=sampling["image_size"], device="cpu", dtype=dtype,
                                            caption_space=sampling.get("text_encoder"))
            for _ in range(5):
                gen.generate(saliency, embedding, seed=[0])
            ms = []
            for _ in range(40):
                t0 = time.perf_counter()
                images[name] = gen.generate(saliency, embedding, seed=[0]).astype(np.float32)
                ms.append((time.perf_counter() - t0) * 1e3)
            result[name] = {"generate_p50_ms": float(np.percentile(ms, 50)),
                            "generate_p95_ms": float(np.percentile(ms, 95))}
    result["images_mean_abs_difference_of_255"] = float(np.abs(images["float32"] - images["bfloat16"]).mean())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
