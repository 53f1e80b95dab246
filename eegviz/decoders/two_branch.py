"""The NeuroImagen two-branch decoder as one object: epoch -> Decoded (feature, saliency, embedding, classes, latent).

Pixel level: EEGEncoder (triplet) for which shape, AttributeEncoder for where / how big / what colour, and the
SaliencyGenerator drawing the silhouette from both; where the folder has one, the LatentRegressor
(eegviz.decoders.latent: EEG -> the generator VAE's latent, for --init latent), fit after the generator.
Sample level: SemanticRegressor -> caption embedding.
Class scores come from the triplet space itself: cosine similarity to per-class prototypes (mean training
feature per class), so no extra classifier is trained on top.

On disk each network is a diffusers-style component folder (config.json + safetensors,
eegviz.component); decoder.json holds what belongs to the decoder as a whole: the input it expects, the class names,
the text space and caption kind, and the class prototypes live in prototypes.safetensors.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eegviz.decoders.attributes import AttributeEncoder
from eegviz.component import load_component
from eegviz.decoders.encoder import EEGEncoder
from eegviz.decoders.latent import FOLDER as LATENT_FOLDER
from eegviz.decoders.latent import LatentRegressor
from eegviz.decoders.saliency import SaliencyGenerator
from eegviz.decoders.semantic import SemanticRegressor
from eegviz.errors import EegvizError, one_line
from eegviz.messages import Decoded, Epoch, ch_name_problem
from eegviz.modelio import check_fields, load_module, read_config, save_module, write_config
from eegviz.stream.preprocess import InputSpec

# the component folders of a saved decoder, by attribute name
PARTS = {"encoder": ("eeg_encoder", EEGEncoder), "attributes": ("attribute_encoder", AttributeEncoder),
         "saliency": ("saliency_generator", SaliencyGenerator), "semantic": ("semantic_regressor", SemanticRegressor)}

# decoder.json 'hparams': the keyword options of TwoBranchDecoder, each optional
HPARAM_KINDS = {"feat_dim": int, "z_dim": int, "saliency_size": int, "n_tokens": int, "text_dim": int,
                "caption": str, "text_encoder": str, "attribute_readout": int}
# ... and the largest of its sizes eegviz builds: a few times the largest real use (CLIP's 77 x 1024 caption
# states, 64 px saliency maps). Building the decoder allocates its weights before any file is compared with it,
# so an edited feat_dim of 10^7 would otherwise ask for tens of GB instead of being refused.
HPARAM_MAX = {"feat_dim": 4096, "z_dim": 1024, "saliency_size": 1024, "n_tokens": 256, "text_dim": 4096}
KIND = "two_branch"  # decoder.json 'kind': the one decoder this eegviz saves and reads
MAX_EPOCH_SAMPLES = 100_000  # samples per epoch (10 s at 10 kHz); the networks' widths grow with it


def prototype_similarities(feat: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(B, n_classes) cosine similarities of features to class prototypes, -inf for a class with no prototype.

    A class with no training trials (THINGS-EEG2's held-out validation and test concepts) has none: its row is
    zero (eegviz.train.decoder stores zeros) or NaN (the mean of no trials, as decoders trained before saved it).
    Left in, a NaN column wins every argmax and a zero one beats every negative similarity, so each trial
    would decode as that one class; masked, each decodes as its nearest class that has a prototype. Where no
    class has one (an untrained decoder) nothing is masked."""
    sims = F.normalize(feat, dim=1) @ F.normalize(prototypes, dim=1).T
    usable = torch.isfinite(prototypes).all(1) & (prototypes != 0).any(1)
    if usable.any() and not usable.all():
        sims = sims.masked_fill(~usable, float("-inf"))
    return sims


def _public(config) -> dict:
    """A component's constructor arguments, without the bookkeeping keys diffusers adds (_class_name, ...)."""
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


def _check_values(cfg: dict, path: Path) -> None:
    """decoder.json values of the right JSON type that no decoder can have, refused in one line naming the field.

    A NaN or infinite rate or window would otherwise surface as an OverflowError deep in model construction, a
    NaN or zero scale as silently blank images, a negative high-pass or a baseline after the epoch as a
    filter or correction that quietly does something else. A montage name MNE does not know failed only when a
    source lacked channels (the interpolation reads it), and another 'kind' of decoder was read as this one."""
    inp, damaged = cfg["input"], "the model folder is damaged, retrain or restore it"
    if cfg.get("kind", KIND) != KIND:
        raise EegvizError(f"{path}: 'kind' is {cfg['kind']!r}; this eegviz reads {KIND!r} decoders (a model from "
                          "another program, or a newer eegviz)")

    def refuse(key: str, rule: str) -> None:
        raise EegvizError(f"{path}: 'input' {key!r} must be {rule}, not {inp[key]!r}; {damaged}")

    # none built zero-width networks (torch warned) before a part was found not to fit
    problem = ch_name_problem(inp["ch_names"], len(inp["ch_names"])) if inp["ch_names"] else "none"
    if problem:
        raise EegvizError(f"{path}: 'input' 'ch_names' must name each of the model's channels once ({problem}); "
                          f"{damaged}")
    for key in ("sfreq", "tmin", "tmax", "scale", "highpass", "notch"):
        if key in inp and not math.isfinite(inp[key]):
            refuse(key, "a finite number")
    if not inp["sfreq"] > 0:
        refuse("sfreq", "> 0 Hz")
    if not inp["tmax"] > inp["tmin"]:
        refuse("tmax", f"after 'tmin' ({inp['tmin']!r} s)")
    samples = (inp["tmax"] - inp["tmin"]) * inp["sfreq"]  # InputSpec.n_times, which may overflow to inf here
    if not (math.isfinite(samples) and 1 <= round(samples) <= MAX_EPOCH_SAMPLES):
        raise EegvizError(f"{path}: 'input' describes epochs of {samples:.0f} samples ('tmin' to 'tmax' at 'sfreq'); "
                          f"eegviz reads 1 to {MAX_EPOCH_SAMPLES}; {damaged}")
    if not inp["scale"] > 0:
        refuse("scale", "> 0 (volts -> model units)")
    if not 0 <= inp.get("highpass", 0.0) < inp["sfreq"] / 2:
        refuse("highpass", f"in [0, {inp['sfreq'] / 2:g}) Hz (0: off; below Nyquist)")
    start, end = inp["baseline"]
    # a window wholly before the epoch is a saved model's "no correction" (EEG-ImageNet's epochs start at +0.02 s
    # after the default -0.1..0 s baseline, eegviz.stream.preprocess.baseline_samples); one after it is not
    if not (math.isfinite(start) and math.isfinite(end) and start <= end and start <= inp["tmax"]):
        refuse("baseline", f"[start, end] in seconds with start <= end, starting before the epoch ends "
                           f"({inp['tmax']!r} s)")
    montage = inp.get("montage", "")  # "": guessed from the names, null: unknown
    if montage is not None and not isinstance(montage, str):
        refuse("montage", "an MNE montage name or null")
    if montage:
        from eegviz.stream.montage import load_montage

        try:
            load_montage(montage)
        except EegvizError:
            refuse("montage", "a montage MNE knows (mne.channels.get_builtin_montages())")
    for key, top in HPARAM_MAX.items():
        value = cfg["hparams"].get(key)
        if value is not None and not 1 <= value <= top:
            raise EegvizError(f"{path} describes a decoder that cannot be built: 'hparams' {key!r} must be 1 to "
                              f"{top}, not {value}; {damaged}")


class TwoBranchDecoder:
    def __init__(self, spec: InputSpec, class_names: list[str], *, feat_dim: int = 128, z_dim: int = 16,
                 saliency_size: int = 32, n_tokens: int = 16, text_dim: int = 384, caption: str = "label",
                 text_encoder: str = "minilm", attribute_readout: int = 1):
        self.spec, self.class_names = spec, list(class_names)
        # text_encoder names the space the semantic branch regresses into (eegviz.decoders.text);
        # attribute_readout: 2 reads the attributes with whitened, windowed ridge readouts, per-class offsets from
        # the decoded class and a linear colour classifier (eegviz.decoders.attributes); 1, the decoders saved
        # before those, a raw whole-epoch ridge and the trunk's colour head
        self.hparams = dict(feat_dim=feat_dim, z_dim=z_dim, saliency_size=saliency_size, n_tokens=n_tokens,
                            text_dim=text_dim, caption=caption, text_encoder=text_encoder,
                            attribute_readout=attribute_readout)
        n_ch, n_t = len(spec.ch_names), spec.n_times
        self.encoder = EEGEncoder(n_ch, n_t, out_dim=feat_dim)
        if attribute_readout not in (1, 2):
            raise ValueError(f"attribute_readout {attribute_readout}: this eegviz reads 1 or 2")
        v2 = attribute_readout == 2
        self.attributes = AttributeEncoder(n_ch, n_t, n_classes=len(self.class_names) if v2 else 0, linear_colour=v2)
        self.saliency = SaliencyGenerator(feat_dim, z_dim, saliency_size)
        self.semantic = SemanticRegressor(n_ch, n_t, n_tokens, text_dim)
        self.prototypes = torch.zeros(len(class_names), feat_dim)
        # the optional second pixel branch (eegviz.decoders.latent), fit after the generator: None until then
        self.latent: LatentRegressor | None = None
        self.folder: Path | None = None  # the model folder load() read it from (None: built in memory)
        self.eval()

    def modules(self) -> dict[str, torch.nn.Module]:
        return {name: getattr(self, name) for name in PARTS}

    def eval(self) -> TwoBranchDecoder:
        for m in self.modules().values():
            m.eval()
        if self.latent is not None:
            self.latent.eval()
        return self

    @staticmethod
    def condition(feat: torch.Tensor, attrs: torch.Tensor) -> torch.Tensor:
        """What the saliency generator is conditioned on: which shape (the triplet feature) and where, how big,
        what colour (the attribute estimates)."""
        return torch.cat([feat, attrs], 1)

    @torch.inference_mode()
    def draw(self, feat: torch.Tensor, attrs: torch.Tensor) -> torch.Tensor:
        """The saliency map (B, H, W, 3) of a shape feature and attributes, at z = 0 (the mode of the prior: a
        stable map per epoch). eegviz eval also draws it from attributes other than the decoded ones."""
        z = torch.zeros(len(feat), self.hparams["z_dim"])
        return self.saliency(z, self.condition(feat, attrs)).permute(0, 2, 3, 1)

    def class_scores(self, feat: torch.Tensor) -> torch.Tensor:
        """(B, n_classes) softmax over the cosine similarities of triplet features to the class prototypes; a
        class with no prototype (no training trials) scores 0 (prototype_similarities)."""
        sims = prototype_similarities(feat, self.prototypes)
        return torch.softmax(sims * 10.0, dim=1)

    @torch.no_grad()
    def decoded_classes(self, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(N,) the class the triplet encoder decodes for each preprocessed epoch (N, ch, T): what the attribute
        encoder reads beside the EEG, in training as in the live path. Always a class with training trials: an
        epoch of a concept never trained on (a zero-shot split's validation or test) gets its nearest one."""
        return torch.cat([self.class_scores(self.encoder(x[s : s + batch])).argmax(1)
                          for s in range(0, len(x), batch)])

    @torch.inference_mode()
    def forward(self, x: np.ndarray | torch.Tensor, latent: bool = True) -> dict[str, np.ndarray]:
        """x: (B, n_ch, n_times) preprocessed -> feature, attributes, saliency (B,H,W,3), embedding, scores, and
        the latent branch's output where the model has one and `latent` asks for it (it costs ~1.3 ms an epoch
        on 2 CPU cores, so a session that starts img2img from the saliency map skips it)."""
        x = torch.as_tensor(x, dtype=torch.float32)
        feat = self.encoder(x)
        scores = self.class_scores(feat)
        attrs = self.attributes(x, scores.argmax(1))
        sal = self.draw(feat, attrs)
        emb = self.semantic(x)
        out = {"feature": feat.numpy(), "attributes": attrs.numpy(), "saliency": sal.numpy(),
               "embedding": emb.numpy(), "scores": scores.numpy()}
        if latent and self.latent is not None:
            out["latent"] = self.latent(x).numpy()
        return out

    def decode_batch(self, epochs: list[Epoch], latent: bool = True) -> list[Decoded]:
        """One forward pass for several pending epochs (the pipeline batches when it falls behind)."""
        out = self.forward(np.stack([e.data for e in epochs]), latent=latent)
        t_done = time.perf_counter()
        return [
            Decoded(epoch=ep, feature=out["feature"][i], saliency=out["saliency"][i], embedding=out["embedding"][i],
                    class_scores=out["scores"][i], class_names=tuple(self.class_names), t_done=t_done,
                    latent=out["latent"][i] if "latent" in out else None)
            for i, ep in enumerate(epochs)
        ]

    def decode(self, epoch: Epoch) -> Decoded:
        return self.decode_batch([epoch])[0]

    def save(self, model_dir: Path, extra: dict | None = None) -> None:
        model_dir = Path(model_dir)
        write_config(model_dir, {"kind": KIND, "input": self.spec.to_dict(), "classes": self.class_names,
                                 "hparams": self.hparams, **(extra or {})}, "decoder.json")
        for name, (folder, _cls) in PARTS.items():
            getattr(self, name).save_pretrained(model_dir / folder)
        holder = torch.nn.Module()
        holder.register_buffer("prototypes", self.prototypes.detach().contiguous())
        save_module(holder, model_dir / "prototypes.safetensors")
        if self.latent is not None:
            self.latent.save_pretrained(model_dir / LATENT_FOLDER)

    @classmethod
    def load(cls, model_dir: Path, without: tuple[str, ...] = ()) -> TwoBranchDecoder:
        """The decoder saved in model_dir; the PARTS named in `without` are left freshly initialised (for
        retraining one stage alone, eegviz.train.saliency_stage)."""
        model_dir = Path(model_dir)
        path = model_dir / "decoder.json"
        cfg = read_config(model_dir, "decoder.json", {"input": dict, "classes": [str], "hparams": dict})
        check_fields(cfg["input"], path, {"ch_names": [str], "sfreq": float, "tmin": float, "tmax": float,
                                          "baseline": [float], "scale": float}, {"highpass": float, "notch": float},
                     "'input'")
        if len(cfg["input"]["baseline"]) != 2:
            raise EegvizError(f"{path}: 'input' 'baseline' must be [start, end] in seconds")
        check_fields(cfg["hparams"], path, {}, HPARAM_KINDS, "'hparams'", allow_unknown=False)
        _check_values(cfg, path)
        try:
            dec = cls(InputSpec.from_dict(cfg["input"]), cfg["classes"], **cfg["hparams"])
        except (ValueError, TypeError, RuntimeError, ZeroDivisionError, OverflowError) as e:  # e.g. a zero size
            raise EegvizError(f"{path} describes a decoder that cannot be built ({one_line(e, 160)})") from None
        for name, (folder, part_cls) in PARTS.items():
            if name in without:
                continue
            part = load_component(part_cls, model_dir / folder)
            if _public(part.config) != _public(getattr(dec, name).config):
                raise EegvizError(f"{model_dir / folder} does not fit {path} (its config differs from the decoder's)")
            setattr(dec, name, part)
        holder = torch.nn.Module()
        holder.register_buffer("prototypes", torch.zeros_like(dec.prototypes))
        load_module(holder, model_dir / "prototypes.safetensors")
        dec.prototypes = holder.prototypes
        if (model_dir / LATENT_FOLDER).is_dir():
            dec.latent = load_component(LatentRegressor, model_dir / LATENT_FOLDER)
            # the VAE its latents belong to (fit_latent_branch encodes with the folder's own): a session checks
            # that the generator draws through this one (eegviz.pipeline.check_latent_start)
            dec.latent.fitted_vae = model_dir / "vae"
            n_ch, n_t = len(dec.spec.ch_names), dec.spec.n_times
            if (dec.latent.config.n_channels, dec.latent.config.n_times) != (n_ch, n_t):
                raise EegvizError(f"{model_dir / LATENT_FOLDER} reads {dec.latent.config.n_channels} channels x "
                                  f"{dec.latent.config.n_times} samples, the decoder {n_ch} x {n_t}")
        dec.folder = model_dir
        return dec.eval()
