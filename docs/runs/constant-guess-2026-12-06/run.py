"""The constant-guess IoU baseline (eegviz.eval.report.constant_guess) for the shipped model's test split,
beside the decoded maps and the reconstructions exactly as `eegviz eval` scores them (same decoder, generator,
seeds and object metrics), with eval's paired bootstrap over (subject, image) units.

    python docs/runs/constant-guess-2026-12-06/run.py DATA OUT.json

DATA: `eegviz simulate --out DATA --subjects 2 --images 50` (the shipped model's data, training.json)."""
import json
import sys
from pathlib import Path

from eegviz.data.loaders import open_dataset
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.eval.controls import subject_image_units
from eegviz.eval.metrics import object_trials, paired_bootstrap_diff, summarise_objects
from eegviz.eval.report import constant_guess, decode_split, eval_generator, generate_all, object_truth
from eegviz.paths import default_model_dir

data, out = Path(sys.argv[1]), Path(sys.argv[2])
model = default_model_dir()
ds = open_dataset(data)
te = ds.subset("test")
dec = TwoBranchDecoder.load(model)
o = decode_split(ds, dec, te)
units = subject_image_units(ds, te)
gen = eval_generator(model)
res = {}
maps = object_trials(o["saliency"], *object_truth(ds, te, o["saliency"].shape[1])[0])
images = {"label+saliency": generate_all(gen, o["saliency"], o["embedding"]),
          "label+latent": generate_all(gen, o["saliency"], o["embedding"], latents=o["latent"])}
size = images["label+saliency"].shape[1]
truth = object_truth(ds, te, size)[0]
for name, (trials, side) in {"saliency maps": (maps, o["saliency"].shape[1]),
                             **{k: (object_trials(v.astype("float32") / 255, *truth), size)
                                for k, v in images.items()}}.items():
    guess = constant_guess(ds, te, side)
    res[name] = {"size": side, "iou": summarise_objects(trials)["iou"],
                 "constant_guess_iou": float(guess["trials"]["iou"].mean()), "guess_level": guess["level"],
                 "minus_constant_guess": paired_bootstrap_diff(trials, guess["trials"], groups=units)["iou"]}
    print(name, json.dumps(res[name]))
out.write_text(json.dumps(res, indent=1))
