"""The shipped decoder's caption-embedding cosine on the test split beside its control, another trial's caption
(the pairing `eegviz eval` uses for its controls), as eval now writes them (embedding_cosine, _shuffled).

    python docs/runs/embedding-cosine-2026-12-06/run.py DATA OUT.json

DATA: `eegviz simulate --out DATA --subjects 2 --images 50` (the shipped model's data, training.json)."""
import json
import sys
from pathlib import Path

import numpy as np

from eegviz.data.loaders import open_dataset
from eegviz.decoders.text import make_text_encoder
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.eval.report import _shuffle, decode_split
from eegviz.paths import default_model_dir

data, out = Path(sys.argv[1]), Path(sys.argv[2])
ds = open_dataset(data)
te = ds.subset("test")
y = ds.labels[te]
dec = TwoBranchDecoder.load(default_model_dir())
emb = decode_split(ds, dec, te)["embedding"].reshape(len(y), -1)
text = make_text_encoder(dec.hparams["text_encoder"], dec.hparams["n_tokens"], dec.hparams["text_dim"])
true = text.encode([f"an image of a {ds.classes[c]}" for c in y]).reshape(len(y), -1)


def cosine(a, b):
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-9)).mean())


res = {"embedding_cosine": cosine(emb, true), "embedding_cosine_shuffled": cosine(emb, true[_shuffle(len(y))]),
       "true_captions_to_shuffled_true_captions": cosine(true, true[_shuffle(len(y))]), "trials": int(len(y))}
print(json.dumps(res))
out.write_text(json.dumps(res, indent=1))
