"""Training the two-branch decoder, in NeuroImagen's order: triplet encoder, then the saliency GAN on the
frozen encoder's features, and the semantic regressor (EEG -> caption embedding, L2) beside them.

Model selection uses the validation split only; the test split is left to `eegviz eval`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from eegviz.data.synthetic import EEGDataset
from eegviz.decoders.saliency import ProjectionDiscriminator, diff_augment, mode_seeking_loss, ssim
from eegviz.decoders.encoder import triplet_loss_semihard
from eegviz.decoders.text import HashTextEncoder
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.stream.preprocess import InputSpec, normalise


def stimulus_targets(image_ids, size: int) -> np.ndarray:
    """(N, 3, size, size) float images in [0,1] rendered from stimulus ids (cached per unique id)."""
    from eegviz.world.stimuli import render, spec_from_id

    uniq = {i: None for i in image_ids}
    for i in uniq:
        uniq[i] = render(spec_from_id(str(i)), size=size)[0].transpose(2, 0, 1)
    return np.stack([uniq[i] for i in image_ids]).astype(np.float32)


def captions_for(ds: EEGDataset, idx: np.ndarray, kind: str) -> list[str]:
    if kind == "label":
        return [f"an image of a {ds.classes[ds.labels[i]]}" for i in idx]
    return [ds.captions[str(ds.image_ids[i])] for i in idx]


def _pk_batches(labels: np.ndarray, p: int, k: int, rng: np.random.Generator):
    """P classes x K samples per batch, so every anchor has positives (needed for the triplet loss)."""
    by_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    n_batches = len(labels) // (p * k)
    for _ in range(n_batches):
        classes = rng.choice(list(by_class), size=min(p, len(by_class)), replace=False)
        yield np.concatenate([rng.choice(by_class[c], size=k, replace=len(by_class[c]) < k) for c in classes])


def nway_accuracy(feat: torch.Tensor, protos: torch.Tensor, labels: np.ndarray) -> float:
    sims = F.normalize(feat, dim=1) @ F.normalize(protos, dim=1).T
    return float((sims.argmax(1).numpy() == labels).mean())


def train_decoder(ds: EEGDataset, *, epochs: int = 30, gan_steps: int = 1500, refine_steps: int = 3000,
                  seed: int = 0, caption: str = "label", log=print) -> tuple[TwoBranchDecoder, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin, tmax=ds.tmin + ds.eeg.shape[-1] / ds.sfreq)
    dec = TwoBranchDecoder(spec, ds.classes, caption=caption)
    x_all = torch.from_numpy(normalise(ds.eeg, spec))
    tr, va = ds.subset("train"), ds.subset("val")
    y = ds.labels
    t0 = time.perf_counter()
    metrics: dict = {}

    # 1) Triplet encoder, best epoch on validation N-way accuracy.
    enc = dec.encoder.train()
    opt = torch.optim.AdamW(enc.parameters(), lr=2e-3, weight_decay=1e-2)
    best, best_state = -1.0, None
    for ep in tqdm(range(epochs), desc="encoder (triplet)", leave=False):
        enc.train()
        for b in _pk_batches(y[tr], p=16, k=8, rng=rng):
            idx = tr[b]
            xb = x_all[idx] + 0.05 * torch.randn(len(idx), *x_all.shape[1:])
            loss = triplet_loss_semihard(enc(xb), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        enc.eval()
        with torch.no_grad():
            f_tr, f_va = enc(x_all[tr]), enc(x_all[va])
        protos = torch.stack([f_tr[y[tr] == c].mean(0) for c in range(len(ds.classes))])
        acc = nway_accuracy(f_va, protos, y[va])
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in enc.state_dict().items()}
            dec.prototypes = protos
    enc.load_state_dict(best_state)
    enc.eval()
    metrics["val_class_acc"] = best
    log(f"encoder: val {len(ds.classes)}-way top-1 {best:.3f} ({time.perf_counter() - t0:.0f} s)")

    with torch.no_grad():
        feats = enc(x_all)
    size = dec.hparams["saliency_size"]
    targets = torch.from_numpy(stimulus_targets(ds.image_ids, size))

    # 2) Saliency GAN on frozen features: hinge + mode seeking + SSIM (+ L1 to anchor colours early).
    G, D = dec.saliency.train(), ProjectionDiscriminator(dec.hparams["feat_dim"], size)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    zd = dec.hparams["z_dim"]
    for step in tqdm(range(gan_steps), desc="saliency GAN", leave=False):
        idx = torch.from_numpy(rng.choice(tr, 64))
        f = feats[idx] + 0.05 * torch.randn(64, feats.shape[1])
        real = targets[idx]
        z1, z2 = torch.randn(64, zd), torch.randn(64, zd)
        fake1 = G(z1, f)
        d_loss = F.relu(1 - D(diff_augment(real), f)).mean() + F.relu(1 + D(diff_augment(fake1.detach()), f)).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        fake2 = G(z2, f)
        g_adv = -D(diff_augment(fake1), f).mean()
        g_loss = (0.05 * g_adv + (1 - ssim(fake1, real)).mean() + F.l1_loss(fake1, real)
                  + 0.02 * mode_seeking_loss(fake1, fake2, z1, z2))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    # 2b) Refinement without the adversary: on 2 CPU cores the short GAN phase leaves blotchy maps; SSIM + L1
    # alone (the paper's reconstruction terms) then sharpen them towards the stimulus.
    opt_r = torch.optim.Adam(G.parameters(), lr=1e-3)
    for step in tqdm(range(refine_steps), desc="saliency refine", leave=False):
        idx = torch.from_numpy(rng.choice(tr, 64))
        f = feats[idx] + 0.05 * torch.randn(64, feats.shape[1])
        out = G(torch.randn(64, zd) * 0.3, f)
        loss = (1 - ssim(out, targets[idx])).mean() + 3 * F.l1_loss(out, targets[idx])
        opt_r.zero_grad()
        loss.backward()
        opt_r.step()
    G.eval()
    with torch.no_grad():
        sal_va = G(torch.zeros(len(va), zd), feats[va])
        metrics["val_saliency_ssim"] = float(ssim(sal_va, targets[va]).mean())
    log(f"saliency: val SSIM {metrics['val_saliency_ssim']:.3f} ({time.perf_counter() - t0:.0f} s)")

    # 3) Semantic branch: EEG -> caption embedding, L2.
    text = HashTextEncoder(dec.hparams["n_tokens"], dec.hparams["text_dim"])
    emb_all = torch.from_numpy(text.encode(captions_for(ds, np.arange(len(y)), caption)))
    sem = dec.semantic.train()
    opt_s = torch.optim.AdamW(sem.parameters(), lr=2e-3, weight_decay=1e-2)
    best_mse, best_state = np.inf, None
    for ep in tqdm(range(epochs), desc="semantic (L2)", leave=False):
        sem.train()
        for b in np.array_split(rng.permutation(tr), max(1, len(tr) // 128)):
            xb = x_all[b] + 0.05 * torch.randn(len(b), *x_all.shape[1:])
            loss = F.mse_loss(sem(xb), emb_all[b])
            opt_s.zero_grad()
            loss.backward()
            opt_s.step()
        sem.eval()
        with torch.no_grad():
            mse = float(F.mse_loss(sem(x_all[va]), emb_all[va]))
        if mse < best_mse:
            best_mse, best_state = mse, {k: v.clone() for k, v in sem.state_dict().items()}
    sem.load_state_dict(best_state)
    with torch.no_grad():
        pred = sem.eval()(x_all[va]).flatten(1)
        metrics["val_embedding_cosine"] = float(F.cosine_similarity(pred, emb_all[va].flatten(1)).mean())
    metrics["val_embedding_mse"] = best_mse
    metrics["train_seconds"] = time.perf_counter() - t0
    log(f"semantic: val cosine {metrics['val_embedding_cosine']:.3f} ({metrics['train_seconds']:.0f} s total)")
    return dec.eval(), metrics
