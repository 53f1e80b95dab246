"""`eegviz train`: decoder, embedded generator and the evaluation classifier into one model folder,
then a test-split evaluation and a model card, so the folder documents itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from eegviz.data.synthetic import load_dataset


def train_all(data: Path, out: Path, *, epochs: int = 30, gan_steps: int = 1500, refine_steps: int = 3000, gen_steps: int = 1500,
              seed: int = 0, threads: int | None = None) -> dict:
    from eegviz.eval.classifier import save_classifier, train_classifier
    from eegviz.eval.report import evaluate, write_model_card
    from eegviz.train.decoder import train_decoder
    from eegviz.train.generator import train_generator

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    ds = load_dataset(data)
    out.mkdir(parents=True, exist_ok=True)
    dec, dmetrics = train_decoder(ds, epochs=epochs, gan_steps=gan_steps, refine_steps=refine_steps, seed=seed)
    dec.save(out)
    ids = sorted({str(i) for i in ds.image_ids[ds.split != "test"]})
    gen, gmetrics = train_generator(ids, ds.classes, steps=gen_steps, seed=seed)
    gen.save(out)
    clf = train_classifier(seed=seed + 1)
    save_classifier(clf, out / "classifier.safetensors")
    train_s = time.perf_counter() - t0
    training = {"decoder": dmetrics, "generator": gmetrics, "total_train_seconds": train_s,
                "threads": torch.get_num_threads(), "epochs": epochs, "gan_steps": gan_steps, "refine_steps": refine_steps,
                "gen_steps": gen_steps, "seed": seed, "data": str(data)}
    (out / "training.json").write_text(json.dumps(training, indent=1))
    metrics = evaluate(data, out, out / "report")
    write_model_card(out, training, metrics)
    return metrics
