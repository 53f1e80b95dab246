"""`eegviz train`: decoder, embedded generator and the evaluation classifier into one model folder,
then a test-split evaluation and a model card, so the folder documents itself.

Runs as one process or under torchrun (see eegviz.train.dist); checkpoints in MODEL_DIR/checkpoints make it
resumable with --resume.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)


# Sampler settings tune_sampling scores on validation: "full" is the shipped model's search; "quick" one
# setting (a smoke run: the choice is trivially that setting, recorded as such in training.json).
SAMPLER_GRIDS = {"full": {}, "quick": {"steps": (2,), "strengths": (0.9,), "guidances": (3.0,)}}


def train_all(data: Path, out: Path, *, epochs: int = 30, gan_steps: int = 1500,
              gen_steps: int = 1500, gen_adv_steps: int = 0, seed: int = 0, threads: int | None = None,
              resume: bool = False, highpass: float = 0.0, notch: float = 0.0, reference: str = "", text_encoder: str = "hash", caption: str = "label",
              data_opts: dict | None = None, classifier_images: int = 200, classifier_epochs: int = 15,
              sampler_grid: str = "full", eval_controls: bool = True, gen_sizes: dict | None = None,
              gen_config: str = "full") -> dict | None:
    """Train everything into `out`; returns the evaluation metrics (None on ranks other than 0).

    Progress goes to the module loggers at INFO (`eegviz train` shows INFO by default); under torchrun only
    rank 0's progress lines pass (dist.main_rank_logging).
    """
    from eegviz.train.dist import init_from_env, main_rank_logging

    info = init_from_env()
    with main_rank_logging(info):
        return _train_all(info, data, out, epochs=epochs, gan_steps=gan_steps,
                          gen_steps=gen_steps, gen_adv_steps=gen_adv_steps, seed=seed, threads=threads,
                          resume=resume, highpass=highpass, notch=notch, reference=reference,
                          text_encoder=text_encoder, caption=caption, data_opts=data_opts,
                          classifier_images=classifier_images, classifier_epochs=classifier_epochs,
                          sampler_grid=sampler_grid, eval_controls=eval_controls, gen_sizes=gen_sizes or {},
                          gen_config=gen_config)


def _train_all(info, data: Path, out: Path, *, epochs, gan_steps, gen_steps, gen_adv_steps, seed,
               threads, resume, highpass, notch, reference, text_encoder, caption, data_opts, classifier_images,
               classifier_epochs, sampler_grid, eval_controls, gen_sizes, gen_config) -> dict | None:
    from eegviz.data.loaders import check_trainable, open_dataset
    from eegviz.eval.classifier import save_classifier, train_classifier
    from eegviz.eval.model_card import describe_dataset, train_command, write_model_card
    from eegviz.eval.report import evaluate
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.train.decoder import train_decoder
    from eegviz.train.dist import barrier, gather_digests, shutdown
    from eegviz.train.generator import train_generator
    from eegviz.world.stimuli import renderable

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    ds = open_dataset(data, **(data_opts or {}))
    check_trainable(ds, data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ck = Checkpoints(out / "checkpoints", resume=resume, enabled=info.is_main)
    dec, dmetrics = train_decoder(ds, epochs=epochs, gan_steps=gan_steps, seed=seed,
                                  highpass=highpass, notch=notch, reference=reference, text_encoder=text_encoder,
                                  caption=caption, ck=ck, info=info)
    t_dec = time.perf_counter() - t0
    digests = {name: gather_digests(m, info) for name, m in dec.modules().items()}
    gen = None  # the embedded generator is trained only where the stimuli can be rendered again
    diffusers_gen = renderable(ds.image_ids) and text_encoder == "minilm"
    if renderable(ds.image_ids) and text_encoder == "hash":
        ids = sorted({str(i) for i in ds.image_ids[ds.split != "test"]})
        gen, gmetrics = train_generator(ids, ds.classes, steps=gen_steps, adv_steps=gen_adv_steps, seed=seed,
                                        ck=ck, info=info)
        digests["generator"] = gather_digests(gen.unet, info)
    elif not diffusers_gen:
        gmetrics = {"skipped": "the embedded generator is trained on synthetic-world stimuli in the MiniLM (or, "
                               "legacy, hash) text space only; use the diffusers generator with an SD model "
                               "(with real images or a CLIP text space)"}
    if not info.is_main:
        barrier(info)
        shutdown(info)
        return None
    dec.save(out)
    if diffusers_gen:  # rank 0 only: fresh renders, no data to shard
        gmetrics = _train_diffusers(out, seed, classifier_images, classifier_epochs, gen_sizes, gen_config)
    training = {"decoder": dmetrics, "generator": gmetrics, "decoder_seconds": t_dec,
                "threads": torch.get_num_threads(), "world_size": info.world_size, "epochs": epochs,
                "highpass_hz": highpass, "notch_hz": notch, "reference": reference, "text_encoder": text_encoder, "caption": caption,
                "gan_steps": gan_steps, "gen_steps": gen_steps,
                "gen_adv_steps": gen_adv_steps, "seed": seed,
                "data": str(data), "resumed": resume, "dataset": describe_dataset(ds, data),
                "synthetic": bool(renderable(ds.image_ids)),
                "command": train_command(data, out, {
                    "epochs": epochs, "gan_steps": gan_steps, "gen_steps": gen_steps,
                    "gen_adv_steps": gen_adv_steps, "seed": seed, "highpass": highpass or None,
                    "notch": notch or None, "reference": reference or None,
                    "text_encoder": text_encoder, "caption": caption, "classifier_images": classifier_images,
                    "classifier_epochs": classifier_epochs,
                    "sampler_grid": None if sampler_grid == "full" else sampler_grid,
                    "no_eval_controls": not eval_controls,
                    **({k: v for k, v in gen_sizes.items()} if diffusers_gen else {}),
                    "generator_config": None if gen_config == "full" or not diffusers_gen else gen_config,
                    **{k.replace("_", "-"): (",".join(map(str, v))
                                                              if isinstance(v, list) else v)
                                                           for k, v in (data_opts or {}).items()}}),
                "ranks_in_sync": all(len(set(v)) == 1 for v in digests.values()), "rank_digests": digests}
    metrics = None
    if gen is not None:
        from eegviz.eval.report import tune_sampling

        clf = train_classifier(n_per_class=classifier_images, epochs=classifier_epochs, seed=seed + 1)
        save_classifier(clf, out / "classifier.safetensors")
        training["sampling_tuned_on_val"] = tune_sampling(ds, dec, gen, clf, **SAMPLER_GRIDS[sampler_grid])
        log.info(f"generator: {gen.steps} steps, strength {gen.strength}, guidance {gen.guidance} (chosen on validation)")
        gen.save(out)
    training["total_train_seconds"] = time.perf_counter() - t0
    (out / "training.json").write_text(json.dumps(training, indent=1))
    if gen is not None or diffusers_gen:
        metrics = evaluate(data, out, out / "report", data_opts=data_opts, controls=eval_controls)
    write_model_card(out, training, metrics)  # every model folder documents itself, evaluated or not
    barrier(info)
    shutdown(info)
    return metrics



def _train_diffusers(out: Path, seed: int, classifier_images: int, classifier_epochs: int, sizes: dict,
                     config: str) -> dict:
    """The 64 px evaluation classifier (renders of seed + 1), then the diffusers generator into `out` itself:
    the model folder is the pipeline folder (model_index.json at its root, beside the decoder's files)."""
    from eegviz.decoders.text import make_text_encoder
    from eegviz.eval.classifier import save_classifier, train_classifier
    from eegviz.train.diffusers_gen import TINY, train_diffusers_generator

    t0 = time.perf_counter()
    clf = train_classifier(n_per_class=classifier_images, epochs=classifier_epochs, seed=seed + 1, size=64)
    save_classifier(clf, out / "classifier.safetensors")
    t_clf = time.perf_counter() - t0
    rec = train_diffusers_generator(out, make_text_encoder("minilm"), clf, seed=seed,
                                    **{**(TINY if config == "tiny" else {}), **sizes})
    return {**rec, "classifier": {"size": 64, "render_seed": seed + 1, "n_per_class": classifier_images,
                                  "epochs": classifier_epochs, "seconds": t_clf}}
