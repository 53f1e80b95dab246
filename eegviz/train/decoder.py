"""Training the two-branch decoder, in NeuroImagen's order: triplet encoder, then the saliency GAN on the
frozen encoder's features, and the semantic regressor (EEG -> caption embedding, L2) beside them. Between the
encoder and the GAN, the attribute encoder learns where / how big / what colour from the epoch, which the
triplet feature, by design, forgets.

Model selection uses the validation split only; the test split is left to `eegviz eval`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from eegviz.data.dataset import EEGDataset
from eegviz.data.targets import captions_for, stimulus_targets
from eegviz.checks import check_range
from eegviz.errors import EegvizError, one_line
from eegviz.decoders.attributes import ATTRIBUTE_NAMES, object_attributes
from eegviz.decoders.saliency import (ProjectionDiscriminator, dice_loss, diff_augment, mode_seeking_loss,
                                     rotation_tolerant, ssim)
from eegviz.decoders.encoder import triplet_loss_semihard
from eegviz.decoders.text import make_text_encoder
from eegviz.decoders.two_branch import TwoBranchDecoder, prototype_similarities
from eegviz.stream.preprocess import InputSpec, prepare_epochs
from eegviz.train.checkpoint import Checkpoints, restore_rng, rng_state
from eegviz.train.dist import DistInfo, average_gradients, sync_state

log = logging.getLogger(__name__)


def pixel_targets(ds: EEGDataset, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the pixel branch learns from, one row per trial: the stimuli (N, 3, size, size), their silhouettes
    (N, 1, size, size) and their object attributes (N, N_ATTRIBUTES; eegviz.decoders.attributes)."""
    images, masks = (torch.from_numpy(a) for a in stimulus_targets(ds.image_ids, size, ds.image_paths))
    attrs = torch.from_numpy(object_attributes(images.permute(0, 2, 3, 1).numpy(), masks[:, 0].numpy()))
    return images, masks, attrs


def _pk_batches(labels: np.ndarray, p: int, k: int, rng: np.random.Generator):
    """P classes x K samples per batch, so every anchor has positives (needed for the triplet loss)."""
    by_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    n_batches = len(labels) // (p * k)
    for _ in range(n_batches):
        classes = rng.choice(list(by_class), size=min(p, len(by_class)), replace=False)
        yield np.concatenate([rng.choice(by_class[c], size=k, replace=len(by_class[c]) < k) for c in classes])


# the saliency generator's loss terms (NeuroImagen's three, then the silhouette's)
GAN_WEIGHTS = {"adversarial": 0.05, "ssim": 1.0, "mode_seeking": 0.02, "silhouette": 1.0}


AVERAGE_SIZES = (2, 4, 8)  # how many same-class training epochs an averaged training example is made of


def class_averages(x_all: torch.Tensor, idx: np.ndarray, labels: np.ndarray, pools: dict, p: float,
                   rng: np.random.Generator) -> tuple[torch.Tensor, list[np.ndarray]]:
    """x_all[idx], where each epoch is replaced, with probability p, by the mean of k (2, 4 or 8) training epochs
    of its class (itself and k - 1 others from pools[class]); returns the batch and each row's member indices.

    Why: at realistic SNR a triplet encoder trained on single trials learns the noise it can fit and barely
    gains when test repetitions are averaged (the realistic preset at -21 dB: 0.11 single, 0.13 with 8 averaged;
    at -24 dB 0.076 and 0.110). Averages of a class's epochs are the same class at higher SNR, so training on a
    mix teaches the class template itself: 0.34 and 0.60 at -21 dB, 0.156 and 0.375 at -24 dB. Averages mix
    exemplars, so only class-level targets (the triplet classes; the caption embedding, averaged over the
    members) use it, never the per-image attributes.
    """
    xb = x_all[idx].clone()
    members = [np.array([i]) for i in idx]
    if p > 0:
        for j in np.flatnonzero(rng.random(len(idx)) < p):
            pool = pools[int(labels[idx[j]])]
            k = min(int(rng.choice(AVERAGE_SIZES)), len(pool))
            others = rng.choice(pool[pool != idx[j]], k - 1, replace=False) if k > 1 else np.array([], int)
            members[j] = np.concatenate([[idx[j]], others]).astype(int)
            xb[j] = x_all[members[j]].mean(0)
    return xb, members


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def nway_accuracy(feat: torch.Tensor, protos: torch.Tensor, labels: np.ndarray) -> float:
    """Top-1 of nearest prototype by cosine; classes with no prototype (zero or NaN rows) are never chosen."""
    sims = prototype_similarities(feat, protos)
    return float((sims.argmax(1).numpy() == labels).mean())


def class_prototypes(feat: torch.Tensor, labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """(n_classes, D) mean feature per class; a zero row (no prototype, prototype_similarities) for a class
    with no trials in `labels`."""
    return torch.stack([feat[labels == c].mean(0) if (labels == c).any() else feat.new_zeros(feat.shape[1])
                        for c in range(n_classes)])


def leave_one_out_accuracy(feat: torch.Tensor, labels: np.ndarray) -> float:
    """Zero-shot N-way top-1 among the trials themselves, for classes no prototype was trained on: each trial
    against the mean feature of every class in `labels` (cosine, as nway_accuracy), its own class's mean taken
    without it. N is the number of classes in `labels` (chance 1/N). A trial that is its class's only one has no
    prototype of its class without it and is not scored; NaN where no trial can be."""
    classes, inv = np.unique(labels, return_inverse=True)
    counts = np.bincount(inv, minlength=len(classes))
    onehot = F.one_hot(torch.from_numpy(inv), len(classes)).to(feat.dtype)
    sums = onehot.T @ feat
    sims = F.normalize(feat, dim=1) @ F.normalize(sums / torch.from_numpy(counts)[:, None].to(feat.dtype), dim=1).T
    own_n = torch.from_numpy(counts[inv]).to(feat.dtype)
    scored = own_n > 1
    own = (sums[inv] - feat) / (own_n - 1).clamp_min(1)[:, None]  # each trial's class mean without it
    own_sim = (F.normalize(feat, dim=1) * F.normalize(own, dim=1)).sum(1)
    rows = torch.arange(len(inv))
    sims[rows, torch.from_numpy(inv)] = torch.where(scored, own_sim, torch.full_like(own_sim, float("-inf")))
    if not scored.any():
        return float("nan")
    return float((sims.argmax(1) == torch.from_numpy(inv))[scored].float().mean())


# how _train_encoder scores validation (training.json: decoder.val_class_protocol)
VAL_PROTOCOL_PROTOTYPES = "train prototypes"
VAL_PROTOCOL_ZERO_SHOT = "zero-shot (validation leave-one-out)"


class _Misfit(Exception):
    """A checkpoint payload that is not what this stage saves (see _restore)."""


def _is_state(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def _fits(state: dict, module: torch.nn.Module) -> bool:
    own = module.state_dict()
    return state.keys() == own.keys() and all(state[k].shape == own[k].shape for k in own)


def _restore(path, payload, modules: dict, opts: dict | None, extra: dict, rng: np.random.Generator) -> int:
    """Put a stage's checkpoint back: its networks and `extra`, for a partial stage (opts given) the
    optimisers, and the random state (numpy's `rng` and torch's) where the payload has one: a partial one always
    does, a finished one when it was written by an eegviz that saves it there (run_stage). Returns the step to
    continue from (0 for a finished stage).

    The file may hold anything torch.load(weights_only=True) accepts, and one written by a run on other data (a
    different channel count) holds weights of other shapes: either would end as a KeyError, TypeError or
    load_state_dict's many-line RuntimeError. So it is checked, and a misfit said in one line with what to do.
    The best weights kept in `extra` must fit a network of the stage too, as the stage loads them after it."""
    try:
        if not (isinstance(payload, dict) and isinstance(payload.get("modules"), dict)
                and isinstance(payload.get("extra"), dict)):
            raise _Misfit(f"it holds a {type(payload).__name__}, not a stage's modules and extra")
        lacking = sorted(set(modules) - set(payload["modules"])) + sorted(set(extra) - set(payload["extra"]))
        if lacking:
            raise _Misfit(f"it has no {', '.join(map(repr, lacking))}")
        for k, m in modules.items():
            m.load_state_dict(payload["modules"][k])
        for k, v in payload["extra"].items():
            if _is_state(v) and not any(_fits(v, m) for m in modules.values()):
                raise _Misfit(f"its {k!r} weights fit none of the stage's networks")
        start = 0
        if opts is not None:
            for k, o in opts.items():
                o.load_state_dict(payload["opts"][k])
            start = payload["step"]
            if not (isinstance(start, int) and start >= 0):
                raise _Misfit(f"its step {start!r} is not a count")
            restore_rng(rng, payload["rng"])
        elif "rng" in payload:
            restore_rng(rng, payload["rng"])
    except (_Misfit, KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
        why = str(e) if isinstance(e, _Misfit) else one_line(e, 160)
        raise EegvizError(f"checkpoint {path} does not fit this run ({why}); it was saved for other data or options: "
                          f"train into a new --out, or delete {path.parent} to start afresh") from None
    extra.update(payload["extra"])
    return start


def run_stage(name: str, n: int, step, *, modules: dict, opts: dict, checkpoints: Checkpoints, rng: np.random.Generator,
              extra: dict, info: DistInfo, desc: str, every: int | None = None) -> None:
    """Run step(i) for i in range(n), resumable: a finished stage is loaded instead of run, a partial one
    continues from its last checkpoint (modules, optimisers, random state and `extra`, e.g. the best weights).

    A finished stage's checkpoint holds the random state as the stage left it too, so a run killed between
    stages (or before the next stage's first partial checkpoint) resumes drawing what the uninterrupted run
    would have. Finished-stage checkpoints written before that was saved still load, with no random state: the
    stages after them then draw from the freshly seeded stream, a valid run but not the uninterrupted one's."""
    done = checkpoints.finished(name)
    if done is not None:
        _restore(checkpoints.path(name, "done"), done, modules, None, extra, rng)
        checkpoints.resumed[name] = "loaded"
        return
    start = 0
    part = checkpoints.partial(name)
    if part is not None:
        start = _restore(checkpoints.path(name, "partial"), part, modules, opts, extra, rng)
        checkpoints.resumed[name] = f"continued from step {start} of {n}"
    every = every or checkpoints.every
    for i in tqdm(range(start, n), initial=start, total=n, desc=desc, leave=False, disable=not info.is_main):
        step(i)
        if checkpoints.enabled and (i + 1) % every == 0 and i + 1 < n:
            checkpoints.save_partial(name, {"step": i + 1, "modules": {k: m.state_dict() for k, m in modules.items()},
                                   "opts": {k: o.state_dict() for k, o in opts.items()}, "extra": extra,
                                   "rng": rng_state(rng)})
    checkpoints.finish(name, {"modules": {k: m.state_dict() for k, m in modules.items()}, "extra": extra,
                              "rng": rng_state(rng)})


def _step(loss: torch.Tensor, opt: torch.optim.Optimizer, module: torch.nn.Module, info: DistInfo) -> None:
    opt.zero_grad()
    loss.backward()
    average_gradients(module, info)
    opt.step()


@dataclass
class _Stages:
    """What every training stage shares: the data and its split, the decoder being trained, one random stream
    (so a resumed run draws what the uninterrupted one would have; run_stage says when it cannot),
    checkpoints, and the metrics so far."""

    ds: EEGDataset
    dec: TwoBranchDecoder
    x: torch.Tensor  # every epoch, prepared as the live path prepares them
    train_idx: np.ndarray
    val_idx: np.ndarray
    rng: np.random.Generator
    checkpoints: Checkpoints
    info: DistInfo
    epochs: int
    average_augment: float
    seed: int
    t0: float = field(default_factory=time.perf_counter)
    metrics: dict = field(default_factory=dict)
    pools: dict = field(init=False)  # class -> its training trials (what class_averages draws from)

    def __post_init__(self):
        y = self.y[self.train_idx]
        self.pools = {int(c): self.train_idx[y == c] for c in np.unique(y)}

    @property
    def y(self) -> np.ndarray:
        return self.ds.labels

    def stage(self, name: str, n: int, step, modules: dict, opts: dict, extra: dict, desc: str,
              every: int | None = None) -> None:
        run_stage(name, n, step, modules=modules, opts=opts, checkpoints=self.checkpoints, rng=self.rng,
                  extra=extra, info=self.info, desc=desc, every=every)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def decoder_spec(ds, highpass: float, notch: float, reference: str) -> InputSpec:
    """The input spec a decoder trained on `ds` declares, saved with the model so the live path filters the same
    way; an unknown reference channel fails here (eegviz train checks it before its output folder exists)."""
    # stripped as every source strips the names it streams: "Fz " saved would not match a live "Fz"
    return InputSpec(ch_names=tuple(str(n).strip() for n in ds.ch_names), sfreq=ds.sfreq, tmin=ds.tmin,
                     tmax=ds.tmin + ds.eeg.shape[-1] / ds.sfreq, highpass=highpass, notch=notch, reference=reference)


def train_decoder(ds: EEGDataset, *, epochs: int = 30, gan_steps: int = 3000,
                  seed: int = 0, caption: str = "label", highpass: float = 0.0, text_encoder: str = "minilm",
                  notch: float = 0.0, reference: str = "", checkpoints: Checkpoints | None = None,
                  average_augment: float = 0.0, info: DistInfo = DistInfo()
                  ) -> tuple[TwoBranchDecoder, dict]:
    """Train the two branches stage by stage on ds's training split, choosing each stage's best epoch on its
    validation split. average_augment: the share of class-level training examples replaced by same-class
    averages (class_averages; 0 keeps single trials only, as the shipped demo decoder was trained)."""
    check_range(average_augment, "--average-augment", 0.0, 1.0, hint="the share of averaged training examples")
    torch.manual_seed(seed)
    spec = decoder_spec(ds, highpass, notch, reference)
    text = make_text_encoder(text_encoder)  # its width sets the semantic head's
    dec = TwoBranchDecoder(spec, ds.classes, caption=caption, n_tokens=text.n_tokens, text_dim=text.dim,
                           text_encoder=text_encoder, attribute_readout=2)  # same init on every rank ...
    for m in dec.modules().values():
        sync_state(m, info)  # ... (same seed) and made certain
    rng = np.random.default_rng([seed, info.rank])  # each rank draws different batches
    torch.manual_seed(seed + 1000 * info.rank)
    st = _Stages(ds, dec, torch.from_numpy(prepare_epochs(ds.eeg, spec)), ds.subset("train"), ds.subset("val"), rng,
                 checkpoints or Checkpoints(None), info, epochs, average_augment, seed)
    # the stimuli are read before the first stage, not after it: a file that cannot be decoded although its
    # header reads (a JPEG cut short) ended the run once the encoder had trained (an hour on THINGS-EEG2), its
    # checkpoints left in --out; reading them costs the same here and fails in seconds
    images, masks, attrs_true = pixel_targets(ds, dec.hparams["saliency_size"])
    _train_encoder(st)
    attrs_pred = _train_attributes(st, attrs_true)
    _train_saliency(st, images, masks, attrs_true, attrs_pred, gan_steps)
    _train_semantic(st, text, caption)
    st.metrics["train_seconds"] = st.elapsed()
    if st.checkpoints.resumed:  # what --resume took from an interrupted run, stage by stage
        st.metrics["resumed_stages"] = dict(st.checkpoints.resumed)
    log.info(f"semantic: val cosine {st.metrics['val_embedding_cosine']:.3f} ({st.metrics['train_seconds']:.0f} s total)")
    return dec.eval(), st.metrics


def _train_encoder(st: _Stages) -> None:
    """1) Triplet encoder (semi-hard, P x K batches), best epoch on validation N-way prototype accuracy.

    Validation is scored by one of two protocols (training.json: val_class_protocol):
    - every validation class has training trials: nearest training prototype among all classes (n_classes-way);
    - some have none (THINGS-EEG2 holds out whole training concepts as validation, so none do): zero-shot, as
      the test concepts are scored, among the validation trials themselves: each against its validation
      classes' mean features, its own class's without it (leave_one_out_accuracy; as many ways as validation
      classes). Training prototypes of unseen classes do not exist; scored against them, every epoch would
      score alike and the first would always be kept.
    The prototypes kept in the decoder are the training ones either way (a zero row, never chosen, for a class
    with no training trials): the live path has nothing else to compare an epoch with."""
    enc, x, y, tr, va = st.dec.encoder, st.x, st.y, st.train_idx, st.val_idx
    opt = torch.optim.AdamW(enc.parameters(), lr=2e-3, weight_decay=1e-2)
    best: dict = {"acc": -1.0, "state": None, "protos": None}
    n_classes = len(st.ds.classes)
    zero_shot = not np.isin(y[va], y[tr]).all()

    def encoder_epoch(_ep):
        enc.train()
        for b in _pk_batches(y[tr], p=16, k=8, rng=st.rng):
            idx = tr[b]
            xb = class_averages(x, idx, y, st.pools, st.average_augment, st.rng)[0]
            xb = xb + 0.05 * torch.randn(len(idx), *x.shape[1:])
            _step(triplet_loss_semihard(enc(xb), torch.from_numpy(y[idx])), opt, enc, st.info)
        sync_state(enc, st.info)  # BatchNorm statistics differ per rank; validate rank 0's everywhere
        enc.eval()
        with torch.no_grad():
            f_tr, f_va = enc(x[tr]), enc(x[va])
        protos = class_prototypes(f_tr, y[tr], n_classes)
        acc = leave_one_out_accuracy(f_va, y[va]) if zero_shot else nway_accuracy(f_va, protos, y[va])
        if acc > best["acc"] or best["state"] is None:  # (NaN only where no validation trial can be scored)
            best.update(acc=acc, state={k: v.clone() for k, v in enc.state_dict().items()}, protos=protos)

    st.stage("encoder", st.epochs, encoder_epoch, {"encoder": enc}, {"opt": opt}, best, "encoder (triplet)", every=1)
    enc.load_state_dict(best["state"])
    st.dec.prototypes = best["protos"]
    enc.eval()
    ways = len(np.unique(y[va])) if zero_shot else n_classes
    st.metrics["val_class_acc"] = None if np.isnan(best["acc"]) else best["acc"]
    st.metrics["val_class_protocol"] = VAL_PROTOCOL_ZERO_SHOT if zero_shot else VAL_PROTOCOL_PROTOTYPES
    st.metrics["val_class_chance"] = 1.0 / max(ways, 1)
    log.info(f"encoder: val {ways}-way top-1 {best['acc']:.3f}, {st.metrics['val_class_protocol']} "
             f"({st.elapsed():.0f} s)")


def _train_attributes(st: _Stages, attrs_true: torch.Tensor) -> torch.Tensor:
    """2) Attribute encoder: where / how big / what colour, read from the epoch (eegviz.decoders.attributes),
    which the triplet feature, by design, forgets. Returns its estimates for every epoch."""
    att, x, tr, va = st.dec.attributes, st.x, st.train_idx, st.val_idx
    att.mean.copy_(attrs_true[tr].mean(0))
    att.std.copy_(attrs_true[tr].std(0).clamp_min(1e-3))
    att.set_colour_vocabulary(attrs_true[tr, 4:7], seed=st.seed)
    # the triplet encoder's, as the live path will hand them over: the nearest class with training trials (classes
    # with none have no prototype), so on a zero-shot split the validation trials, whose concepts were never
    # trained on, read the offsets of their nearest training concept, as unseen test concepts will
    cls = st.dec.decoded_classes(x)
    spec = st.dec.spec
    times = spec.tmin + np.arange(x.shape[-1]) / spec.sfreq
    readouts: dict = {}

    def fit_readouts(_):
        readouts["attribute_readouts"] = att.fit_linear(x[tr], attrs_true[tr], x[va], attrs_true[va], times=times,
                                                        classes_train=cls[tr], classes_val=cls[va])
        if att.colour_linear is not None:
            readouts["colour_readout"] = att.fit_colour(x[tr], attrs_true[tr, 4:7], x[va], attrs_true[va, 4:7],
                                                        times)

    # a stage of its own (one step), so --resume loads the fitted readouts and their choices instead of fitting
    # them again (minutes of ridge and logistic fits on the shipped data); runs whose checkpoints predate it fit
    # them as before, and the finished "attributes" stage then loads over them
    st.stage("readouts", 1, fit_readouts, {"attributes": att}, {}, readouts, "attribute readouts")
    att.freeze_readouts()  # requires_grad is not in a state dict: a loaded readout must stay out of the optimiser
    st.metrics.update(readouts)
    opt_a = torch.optim.AdamW([p for p in att.parameters() if p.requires_grad], lr=2e-3, weight_decay=1e-2)
    best_a: dict = {"loss": float("inf"), "state": None}

    def attribute_epoch(_ep):
        att.train()
        for b in np.array_split(st.rng.permutation(tr), max(1, len(tr) // 64)):
            xb = x[b] + 0.05 * torch.randn(len(b), *x.shape[1:])
            _step(att.loss(xb, attrs_true[b], cls[b]), opt_a, att, st.info)
        sync_state(att, st.info)
        att.eval()
        with torch.no_grad():
            loss = float(att.loss(x[va], attrs_true[va], cls[va]))
        if loss < best_a["loss"]:
            best_a.update(loss=loss, state={k: v.clone() for k, v in att.state_dict().items()})

    st.stage("attributes", st.epochs, attribute_epoch, {"attributes": att}, {"opt": opt_a}, best_a, "attributes",
             every=1)
    att.load_state_dict(best_a["state"])
    att.eval()
    with torch.no_grad():
        attrs_pred = att(x, cls)
    att.residual_std.copy_((attrs_pred[va] - attrs_true[va]).std(0))
    r = st.metrics["val_attribute_r"] = {name: _pearson(attrs_pred[va, j], attrs_true[va, j])
                                         for j, name in enumerate(("cx", "cy", "size"))}
    with torch.no_grad():
        st.metrics["val_colour_acc"] = float((att.colour_logits(x[va]).argmax(1)
                                              == att.colour_labels(attrs_true[va, 4:7])).float().mean())
    log.info(f"attributes: val r cx {r['cx']:.2f} cy {r['cy']:.2f} size {r['size']:.2f} ({st.elapsed():.0f} s)")
    return attrs_pred


def _train_saliency(st: _Stages, images: torch.Tensor, masks: torch.Tensor, attrs_true: torch.Tensor,
                    attrs_pred: torch.Tensor, gan_steps: int) -> None:
    """3) Saliency GAN on the frozen encoders: hinge + mode seeking + SSIM, and Dice/BCE on the silhouette.

    G is told where and how big from the true attributes blurred by the attribute encoder's own validation error
    (so at run time it draws from estimates as uncertain as those it was trained on), and is scored against the
    stimulus moved to where it was told (follow_condition) and turned to the angle closest to its drawing
    (rotation_tolerant): the target is the class's silhouette at that place, one sharp answer, not the blur of
    every place and turn the object might have had. The colours in its condition are
    the true ones: G composes with the colours it is given (the attribute encoder's at run time) and learns only
    the silhouette."""
    dec, att, tr, va = st.dec, st.dec.attributes, st.train_idx, st.val_idx
    with torch.no_grad():
        feats = dec.encoder(st.x)
    G = dec.saliency.train()
    D = ProjectionDiscriminator(dec.hparams["feat_dim"] + attrs_true.shape[1], dec.hparams["saliency_size"])
    sync_state(D, st.info)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    zd = dec.hparams["z_dim"]
    blurred = torch.zeros(attrs_true.shape[1], dtype=torch.bool)
    blurred[[ATTRIBUTE_NAMES.index(n) for n in ("cx", "cy", "size", "extent")]] = True

    def gan_step(_i):
        idx = torch.from_numpy(st.rng.choice(tr, 64))
        f = feats[idx] + 0.05 * torch.randn(64, feats.shape[1])
        a = attrs_true[idx] + blurred * att.residual_std * torch.randn(64, attrs_true.shape[1])
        cond = dec.condition(f, a)
        z1, z2 = torch.randn(64, zd), torch.randn(64, zd)
        logits, obj, bg = G.parts(z1, cond)
        # the stimulus where G was told to draw it, turned to the angle closest to G's drawing
        real, mask = rotation_tolerant(logits, images[idx], masks[idx], attrs_true[idx], a)
        fake1 = G.compose(torch.sigmoid(logits), obj, bg)
        d_loss = F.relu(1 - D(diff_augment(real), cond)).mean() + F.relu(1 + D(diff_augment(fake1.detach()), cond)).mean()
        _step(d_loss, opt_d, D, st.info)
        fake2 = G(z2, cond)
        silhouette = dice_loss(logits, mask).mean() + F.binary_cross_entropy_with_logits(logits, mask)
        g_loss = (GAN_WEIGHTS["adversarial"] * -D(diff_augment(fake1), cond).mean()
                  + GAN_WEIGHTS["ssim"] * (1 - ssim(fake1, real)).mean()
                  + GAN_WEIGHTS["silhouette"] * silhouette
                  + GAN_WEIGHTS["mode_seeking"] * mode_seeking_loss(fake1, fake2, z1, z2))
        _step(g_loss, opt_g, G, st.info)

    st.stage("saliency_gan", gan_steps, gan_step, {"G": G, "D": D}, {"g": opt_g, "d": opt_d}, {}, "saliency GAN")
    sync_state(G, st.info)
    G.eval()
    m = st.metrics
    with torch.no_grad():
        cond_va = dec.condition(feats[va], attrs_pred[va])  # the run-time path: estimated attributes
        sal_va = G(torch.zeros(len(va), zd), cond_va)
        m["val_saliency_ssim"] = float(ssim(sal_va, images[va]).mean())
        mask_va = torch.sigmoid(G.parts(torch.zeros(len(va), zd), cond_va)[0])
        m["val_saliency_iou"] = float(_iou(mask_va > 0.5, masks[va] > 0.5).mean())
        z_a, z_b = torch.randn(len(va), zd), torch.randn(len(va), zd)
        m["val_saliency_z_spread"] = float((G(z_a, cond_va) - G(z_b, cond_va)).abs().mean())
    log.info(f"saliency: val IoU {m['val_saliency_iou']:.3f}, SSIM {m['val_saliency_ssim']:.3f} ({st.elapsed():.0f} s)")


def _train_semantic(st: _Stages, text, caption: str) -> None:
    """4) Semantic branch: EEG -> caption embedding, L2; averaged examples regress onto their members' mean."""
    x, y, tr, va = st.x, st.y, st.train_idx, st.val_idx
    emb_all = torch.from_numpy(text.encode(captions_for(st.ds, np.arange(len(y)), caption)))
    sem = st.dec.semantic
    opt_s = torch.optim.AdamW(sem.parameters(), lr=2e-3, weight_decay=1e-2)
    best_s: dict = {"mse": float("inf"), "state": None}

    def semantic_epoch(_ep):
        sem.train()
        for b in np.array_split(st.rng.permutation(tr), max(1, len(tr) // 128)):
            xb, members = class_averages(x, b, y, st.pools, st.average_augment, st.rng)
            target = torch.stack([emb_all[m].mean(0) for m in members]) if st.average_augment else emb_all[b]
            xb = xb + 0.05 * torch.randn(len(b), *x.shape[1:])
            _step(F.mse_loss(sem(xb), target), opt_s, sem, st.info)
        sync_state(sem, st.info)
        sem.eval()
        with torch.no_grad():
            mse = float(F.mse_loss(sem(x[va]), emb_all[va]))
        if mse < best_s["mse"]:
            best_s.update(mse=mse, state={k: v.clone() for k, v in sem.state_dict().items()})

    st.stage("semantic", st.epochs, semantic_epoch, {"semantic": sem}, {"opt": opt_s}, best_s, "semantic (L2)", every=1)
    sem.load_state_dict(best_s["state"])
    with torch.no_grad():
        pred = sem.eval()(x[va]).flatten(1)
        st.metrics["val_embedding_cosine"] = float(F.cosine_similarity(pred, emb_all[va].flatten(1)).mean())
    st.metrics["val_embedding_mse"] = best_s["mse"]
