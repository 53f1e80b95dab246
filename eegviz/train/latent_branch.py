"""Fit the decoder's latent branch (eegviz.decoders.latent) into a model folder that has a generator pipeline.

    python -m eegviz.train.latent_branch --model MODEL_DIR --data DATASET

The target of each training epoch is its stimulus encoded by the folder's own VAE (the mean of its latent
distribution, times the scaling factor: what the UNet denoises), at the pipeline's image size; the ridge
penalties are chosen on the validation split. Writes MODEL_DIR/latent_regressor/ and latent_branch.json (what
was fit, on which data, and its validation R^2); `eegviz train` calls fit_latent_branch after the generator.
A regressor fitted before is not overwritten: it is kept as latent_regressor.previous-<UTC time>, and its record
inside the new latent_branch.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eegviz.errors import EegvizError

log = logging.getLogger(__name__)


@torch.no_grad()
def stimulus_latents(vae, images: np.ndarray, batch: int = 64) -> torch.Tensor:
    """(N, 3, H, W) images in [0, 1] -> (N, C, h, w) scaled latent means under `vae`, in batches."""
    from eegviz.train.autoencoder import encode_mean

    return torch.cat([encode_mean(vae, torch.as_tensor(images[i : i + batch], dtype=torch.float32) * 2 - 1)
                      for i in range(0, len(images), batch)])


# 40 ms bins: a ridge map's weights are (channels x bins) x latent elements (128 x 17 x 1024 floats = 9 MB here);
# 20 ms bins would double that and fit worse (validation R^2 0.044 against 0.078 on the demo world)
BIN_SAMPLES_AT_250HZ = 10


def fit_latent_branch(model_dir: Path, ds, data_label: str = "") -> dict:
    """Fit and save the latent regressor of the decoder in model_dir on ds; returns latent_branch.json."""
    from eegviz.decoders.latent import FOLDER, LatentRegressor
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.eval.report import check_epochs_fit
    from eegviz.generators.diffusers_sd import read_sampling
    from eegviz.modelio import swap_in, write_config
    from eegviz.stream.preprocess import prepare_epochs
    from eegviz.data.targets import stimulus_targets
    from eegviz.train.pipeline_folder import load_components

    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise EegvizError(f"{model_dir} has no generator pipeline (model_index.json): the latent branch regresses "
                          "into its autoencoder's latent")
    t0 = time.perf_counter()
    dec = TwoBranchDecoder.load(model_dir)
    # the ridge map reads the epochs as the decoder prepares them: data of another channel count ended in a
    # RuntimeError traceback from the fit, and one of the same count in another order, rate or window was fitted
    # without a word, so that the live decoder's epochs meet weights learnt on other channels
    try:
        check_epochs_fit(ds, dec.spec)
    except EegvizError as e:
        raise EegvizError(f"the latent branch cannot be fitted on this data: {e}; fit it on data recorded as the "
                          f"decoder in {model_dir} was trained") from None
    vae = load_components(model_dir)[0]
    size = int(read_sampling(model_dir).get("image_size") or vae.config.sample_size)
    idx = np.concatenate([ds.subset("train"), ds.subset("val")])
    ids = np.asarray(ds.image_ids)[idx]
    unique, inverse = np.unique(ids.astype(str), return_inverse=True)  # encode each stimulus once
    images = stimulus_targets(unique, size, ds.image_paths)[0]
    z = stimulus_latents(vae, images)[torch.from_numpy(inverse)]
    x = torch.from_numpy(prepare_epochs(ds.eeg[idx], dec.spec))
    n_train = len(ds.subset("train"))
    bins = max(1, round(BIN_SAMPLES_AT_250HZ * dec.spec.sfreq / 250.0))
    reg = LatentRegressor(len(dec.spec.ch_names), dec.spec.n_times, tuple(z.shape[1:]), bin_samples=bins)
    fit = reg.fit(x[:n_train], z[:n_train], x[n_train:], z[n_train:])
    kept = swap_in(model_dir, FOLDER, reg.save_pretrained)  # a regressor fitted before is kept, not overwritten
    info = {"data": data_label, "image_size": size, "latent_shape": list(z.shape[1:]),
            "train_trials": n_train, "val_trials": int(len(idx) - n_train), **fit,
            "seconds": time.perf_counter() - t0}
    record = model_dir / "latent_branch.json"
    if kept is not None:
        info["replaced_kept_as"] = kept.name
        if record.is_file():
            info["replaced_record"] = json.loads(record.read_text())
    write_config(model_dir, info, record.name)
    from eegviz.data.seen_images import add_seen_images

    if not add_seen_images(model_dir, ds):  # eval refuses test images the branch learnt from, as the decoder's
        log.warning("%s keeps no seen_images.json (made before it existed): eval cannot tell which test images "
                    "this latent branch or the decoder learnt from", model_dir)
    log.info("latent branch: validation R^2 %.3f over %s latents (%.0f s)", fit["val_r2"], list(z.shape[1:]),
             info["seconds"])
    return info


def main(argv: list[str] | None = None) -> int:
    from eegviz.data.loaders import open_dataset
    from eegviz.data.options import add_dataset_arguments, dataset_options

    p = argparse.ArgumentParser(prog="python -m eegviz.train.latent_branch", description=__doc__.split("\n")[0],
                                allow_abbrev=False)  # as eegviz's own commands: options only in full
    p.add_argument("--model", required=True, help="model folder with a decoder and a generator pipeline")
    p.add_argument("--data", required=True, help="the dataset the decoder was trained on")
    add_dataset_arguments(p)  # as given to `eegviz train`
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(a.threads)
    try:
        info = fit_latent_branch(Path(a.model), open_dataset(a.data, **dataset_options(a)), a.data)
    except EegvizError as e:
        print(f"eegviz: {e}", file=sys.stderr)
        return 2
    print(f"eegviz: latent branch in {Path(a.model) / 'latent_regressor'} (validation R^2 {info['val_r2']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
