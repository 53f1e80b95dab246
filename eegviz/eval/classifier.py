"""Image classifiers that judge reconstructions (N-way top-k, Inception Score).

- StimulusClassifier: trained offline on the synthetic stimulus set, the stand-in for NeuroImagen's ImageNet
  classifier in the embedded world. Trained on fresh renders (`eegviz train --seed` + 1, seed 1 by default; a
  seed that would render the EEG stimuli themselves is refused by eegviz.train.run.check_classifier_seed, and
  `eegviz eval` on data of the classifier's own seed by eegviz.eval.report.check_classifier_unseen) so it
  judges shape, not memorised pictures. Its classes are the dataset's classes.
- HFImageClassifier: any transformers image-classification model in a local folder or the HF cache, e.g. an
  ImageNet ResNet/ViT/ConvNeXt, or Inception-v3 through timm (transformers' TimmWrapper, needs timm) for the
  paper's IS. Its classes are its own (ImageNet's 1000), so eval scores a reconstruction against the class the
  classifier gives the true stimulus, as NeuroImagen and MinD-Vis do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from eegviz.component import Component, load_component, register_to_config

# the classifier's component folder inside a model folder
CLASSIFIER_FOLDER = "stimulus_classifier"


class StimulusClassifier(Component):
    """A small convnet that names a synthetic-world image's class: eval's stand-in for an ImageNet classifier.

    Its config (classes, size) travels with its weights, so a model folder's classifier names its own outputs
    and judges at the size it was trained at: its weights fit any size (global pooling), and only the config
    keeps a 64 px classifier from silently judging at 32 px.
    """

    name = "stimulus classifier (synthetic world)"

    @register_to_config
    def __init__(self, classes: list[str], size: int = 32, channels: tuple[int, ...] = (32, 64, 96)):
        super().__init__()
        self.classes, self.size = list(classes), size  # its output order

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        widths = (3, *channels)
        self.body = nn.Sequential(*(block(i, o) for i, o in zip(widths, widths[1:])), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten())
        self.head = nn.Linear(widths[-1], len(self.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) in [0,1], any H, W (resized to the training size)."""
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.body(x))

    @torch.inference_mode()
    def logits_uint8(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).float().permute(0, 3, 1, 2) / 255.0
        return self.eval()(x).numpy()


# The classifier eval judges 64 px reconstructions with: four 3x3-conv blocks, so its receptive field (about 46 px)
# covers a whole object (26-48 px across at 64 px). The three-block 32/64/96 net before it saw only parts of one
# and named 0.93 of held-out 64 px renders (a hexagon called a ring, a bar an arrow); this one names 1.000 of 1000
# validation renders after 15 fresh epochs (6 minutes on 2 cores), and is cheaper per image (narrow early layers).
CLASSIFIER_CHANNELS = (16, 32, 64, 128)


def check_classifier_renders(n_per_class: int, size: int) -> None:
    """Refuse an `eegviz train --classifier-images` whose renders cannot be held, before anything is trained: each
    epoch of train_classifier renders n_per_class images of every class at once (float32 images and masks), and
    20000 ended in a MemoryError traceback (36.6 GiB) when the classifier started, after the decoder had trained."""
    from eegviz.checks import check_memory
    from eegviz.world.stimuli import CLASSES

    n = n_per_class * len(CLASSES)
    check_memory(n * size * size * (3 + 1) * 4, f"--classifier-images {n_per_class} ({n} renders of {size} px per "
                 "epoch)", "fewer --classifier-images")


def train_classifier(n_per_class: int = 200, epochs: int = 15, seed: int = 1, size: int = 32,
                     channels: tuple[int, ...] = CLASSIFIER_CHANNELS, fresh: bool = True,
                     lr: float = 3e-3) -> StimulusClassifier:
    """Train on renders of `seed` (never the EEG stimuli's seed 0 nor the generator's training seeds >= 1000).

    fresh: every epoch renders n_per_class new images per class (stimulus numbers k run on across epochs), so
    the classifier never sees a picture twice and judges shape, not memorised pictures; otherwise one fixed set
    is reused every epoch. The learning rate decays on a cosine over the run."""
    import math

    from eegviz.world.stimuli import CLASSES, make_spec, render_batch

    torch.manual_seed(seed)
    clf = StimulusClassifier(CLASSES, size, tuple(channels))
    opt = torch.optim.AdamW(clf.parameters(), lr=lr)
    n_steps = epochs * math.ceil(n_per_class * len(CLASSES) / 64)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i / n_steps, 1))))
    x = y = None
    for epoch in tqdm(range(epochs), desc="stimulus classifier", leave=False):
        if x is None or fresh:
            k0 = epoch * n_per_class if fresh else 0
            specs = [make_spec(c, k0 + k, seed) for c in range(len(CLASSES)) for k in range(n_per_class)]
            imgs, _ = render_batch(specs, size=size)
            x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
            y = torch.tensor([s.class_idx for s in specs])
        clf.train()
        for b in torch.randperm(len(x)).split(64):
            loss = F.cross_entropy(clf(_augment(x[b])), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return clf.eval()


def _augment(xb: torch.Tensor) -> torch.Tensor:
    """Blur/noise/contrast augmentation: reconstructions are softer and noisier than renders, and the classifier
    should judge the shape, not the rendering style."""
    r = float(torch.rand(()))
    if r < 0.5:
        xb = F.avg_pool2d(xb, 3, 1, 1, count_include_pad=False)
    if r < 0.2:
        xb = F.avg_pool2d(xb, 3, 1, 1, count_include_pad=False)
    gain = 0.7 + 0.6 * torch.rand(len(xb), 1, 1, 1)
    mean = xb.mean(dim=(2, 3), keepdim=True)
    return (mean + (xb - mean) * gain + 0.05 * torch.randn_like(xb)).clamp(0, 1)


def save_classifier(clf: StimulusClassifier, model_dir: Path) -> Path:
    """Save into model_dir/stimulus_classifier (config.json + safetensors); returns that folder."""
    folder = Path(model_dir) / CLASSIFIER_FOLDER
    clf.save_pretrained(folder)
    return folder


def load_classifier(model_dir: Path) -> StimulusClassifier:
    """The stimulus classifier saved in model_dir (one-line EegvizError when it is missing or broken)."""
    return load_component(StimulusClassifier, Path(model_dir) / CLASSIFIER_FOLDER)


def has_classifier(model_dir: Path) -> bool:
    return (Path(model_dir) / CLASSIFIER_FOLDER / StimulusClassifier.config_name).is_file()


class HFImageClassifier:
    """A transformers image classifier; its own processor does the resizing and normalisation."""

    def __init__(self, model: str, batch: int = 32):
        from eegviz.errors import EegvizError
        from eegviz.model_sources import local_files_only, quiet_hf_libraries

        quiet_hf_libraries()
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        local = local_files_only(model)
        # trust_remote_code=False: a folder whose configs name their own Python classes (auto_map) is refused, not
        # run; left unset, transformers asks at the terminal whether to run it (found by review)
        try:
            self.processor = AutoImageProcessor.from_pretrained(model, local_files_only=local, trust_remote_code=False)
            self.model = AutoModelForImageClassification.from_pretrained(model, local_files_only=local,
                                                                         trust_remote_code=False).eval()
        except (OSError, ValueError, ImportError) as exc:
            raise EegvizError(f"cannot load an image classifier from '{model}': it needs a transformers "
                              f"image-classification model with its preprocessor config ({type(exc).__name__})"
                              ) from None
        labels = self.model.config.id2label
        self.classes = [str(labels[i]) for i in range(len(labels))]
        self.name = f"{type(self.model).__name__} ({model})"
        self.batch = batch

    @torch.inference_mode()
    def logits_uint8(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, classes) logits."""
        out = []
        for s in range(0, len(images), self.batch):
            inputs = self.processor(images=list(images[s : s + self.batch]), return_tensors="pt")
            out.append(self.model(**inputs).logits.float().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)
