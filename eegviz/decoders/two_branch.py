"""The NeuroImagen two-branch decoder as one object: epoch -> Decoded (feature, saliency, embedding, classes).

Pixel level: EEGEncoder (triplet) -> SaliencyGenerator. Sample level: SemanticRegressor -> text embedding.
Class scores come from the triplet space itself: cosine similarity to per-class prototypes (mean training
feature per class), so no extra classifier is trained on top.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eegviz.decoders.encoder import EEGEncoder
from eegviz.decoders.saliency import SaliencyGenerator
from eegviz.decoders.semantic import SemanticRegressor
from eegviz.errors import EegvizError, one_line
from eegviz.messages import Decoded, Epoch
from eegviz.modelio import check_fields, load_module, read_config, save_module, write_config
from eegviz.stream.preprocess import InputSpec


# decoder.json 'hparams': the keyword options of TwoBranchDecoder, each optional (older models lack some)
HPARAM_KINDS = {"feat_dim": int, "z_dim": int, "saliency_size": int, "n_tokens": int, "text_dim": int,
                "caption": str, "text_encoder": str}


class TwoBranchDecoder:
    def __init__(self, spec: InputSpec, class_names: list[str], *, feat_dim: int = 128, z_dim: int = 16,
                 saliency_size: int = 32, n_tokens: int = 8, text_dim: int = 64, caption: str = "label",
                 text_encoder: str = "hash"):
        self.spec, self.class_names = spec, list(class_names)
        # text_encoder names the space the semantic branch regresses into (eegviz.decoders.text)
        self.hparams = dict(feat_dim=feat_dim, z_dim=z_dim, saliency_size=saliency_size, n_tokens=n_tokens,
                            text_dim=text_dim, caption=caption, text_encoder=text_encoder)
        n_ch, n_t = len(spec.ch_names), spec.n_times
        self.encoder = EEGEncoder(n_ch, n_t, out_dim=feat_dim)
        self.saliency = SaliencyGenerator(feat_dim, z_dim, saliency_size)
        self.semantic = SemanticRegressor(n_ch, n_t, n_tokens, text_dim)
        self.prototypes = torch.zeros(len(class_names), feat_dim)
        self.eval()

    def eval(self) -> TwoBranchDecoder:
        for m in (self.encoder, self.saliency, self.semantic):
            m.eval()
        return self

    @torch.inference_mode()
    def forward(self, x: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
        """x: (B, n_ch, n_times) preprocessed -> feature, saliency (B,H,W,3), embedding, class scores."""
        x = torch.as_tensor(x, dtype=torch.float32)
        feat = self.encoder(x)
        z = torch.zeros(len(x), self.hparams["z_dim"])  # the mode of the prior: a stable map per epoch
        sal = self.saliency(z, feat).permute(0, 2, 3, 1)
        emb = self.semantic(x)
        sims = F.normalize(feat, dim=1) @ F.normalize(self.prototypes, dim=1).T
        scores = torch.softmax(sims * 10.0, dim=1)
        return {"feature": feat.numpy(), "saliency": sal.numpy(), "embedding": emb.numpy(), "scores": scores.numpy()}

    def decode_batch(self, epochs: list[Epoch]) -> list[Decoded]:
        """One forward pass for several pending epochs (the pipeline batches when it falls behind)."""
        out = self.forward(np.stack([e.data for e in epochs]))
        t_done = time.perf_counter()
        return [
            Decoded(epoch=ep, feature=out["feature"][i], saliency=out["saliency"][i], embedding=out["embedding"][i],
                    class_scores=out["scores"][i], class_names=tuple(self.class_names), t_done=t_done)
            for i, ep in enumerate(epochs)
        ]

    def decode(self, epoch: Epoch) -> Decoded:
        return self.decode_batch([epoch])[0]

    def save(self, model_dir: Path, extra: dict | None = None) -> None:
        model_dir = Path(model_dir)
        write_config(model_dir, {"kind": "two_branch", "input": self.spec.to_dict(), "classes": self.class_names,
                                 "hparams": self.hparams, **(extra or {})}, "decoder.json")
        save_module(self.encoder, model_dir / "encoder.safetensors")
        save_module(self.saliency, model_dir / "saliency.safetensors")
        save_module(self.semantic, model_dir / "semantic.safetensors")
        from safetensors.torch import save_file

        save_file({"prototypes": self.prototypes.contiguous()}, str(model_dir / "prototypes.safetensors"))

    @classmethod
    def load(cls, model_dir: Path) -> TwoBranchDecoder:
        model_dir = Path(model_dir)
        path = model_dir / "decoder.json"
        cfg = read_config(model_dir, "decoder.json", {"input": dict, "classes": [str], "hparams": dict})
        check_fields(cfg["input"], path, {"ch_names": [str], "sfreq": float, "tmin": float, "tmax": float,
                                          "baseline": [float], "scale": float}, {"highpass": float}, "'input'")
        if len(cfg["input"]["baseline"]) != 2:
            raise EegvizError(f"{path}: 'input' 'baseline' must be [start, end] in seconds")
        check_fields(cfg["hparams"], path, {}, HPARAM_KINDS, "'hparams'", allow_unknown=False)
        try:
            dec = cls(InputSpec.from_dict(cfg["input"]), cfg["classes"], **cfg["hparams"])
        except (ValueError, TypeError, RuntimeError, ZeroDivisionError) as e:  # e.g. a zero or negative size
            raise EegvizError(f"{path} describes a decoder that cannot be built ({one_line(e, 160)})") from None
        load_module(dec.encoder, model_dir / "encoder.safetensors")
        load_module(dec.saliency, model_dir / "saliency.safetensors")
        load_module(dec.semantic, model_dir / "semantic.safetensors")
        holder = torch.nn.Module()
        holder.register_buffer("prototypes", torch.zeros_like(dec.prototypes))
        load_module(holder, model_dir / "prototypes.safetensors")
        dec.prototypes = holder.prototypes
        return dec.eval()
