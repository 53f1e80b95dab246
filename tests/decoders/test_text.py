"""Text encoders: the offline hash space and a real CLIP text encoder (tiny, random, built from config)."""

import numpy as np
import pytest

from eegviz.decoders.text import ClipTextEncoder, HashTextEncoder, make_text_encoder
from eegviz.errors import EegvizError
from tiny_models import tiny_sd_text_folder


def test_hash_encoder_is_deterministic_and_word_based():
    enc = HashTextEncoder()
    a, b = enc.encode(["an image of a red star", "a red star"])
    np.testing.assert_array_equal(a, b)  # stopwords dropped, same content words
    assert a.shape == (8, 64) and not np.allclose(a, enc.encode(["a blue star"])[0])
    assert isinstance(make_text_encoder("hash", 4, 16), HashTextEncoder)


def test_clip_encoder_from_an_sd_folder(tmp_path):
    root = tiny_sd_text_folder(tmp_path / "sd")
    enc = make_text_encoder(f"clip:{root}")
    assert isinstance(enc, ClipTextEncoder) and (enc.n_tokens, enc.dim) == (77, 32)
    caps = ["an image of a star", "an image of a cat", "an image of a star"]
    e = enc.encode(caps)
    assert e.shape == (3, 77, 32) and e.dtype == np.float32
    np.testing.assert_allclose(e[0], e[2], atol=1e-6)
    assert not np.allclose(e[0], e[1])
    assert enc.encode([]).shape == (0, 77, 32)


def test_bad_specs_are_one_clear_error(tmp_path):
    with pytest.raises(EegvizError, match="unknown text encoder 'bert'"):
        make_text_encoder("bert")
    with pytest.raises(EegvizError, match="cannot load a CLIP text encoder"):
        make_text_encoder(f"clip:{tmp_path}")


def test_decoder_trains_into_the_clip_space(tmp_path):
    """The semantic branch regresses into CLIP's 77 x hidden space; the embedded generator is then skipped."""
    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.train.decoder import train_decoder

    root = tiny_sd_text_folder(tmp_path / "sd")
    # 3 images per class, the fewest with every split (a validation split for val_embedding_mse): the CLIP
    # space's shape and the saved encoder name do not depend on how many trials trained it
    ds = load_dataset(simulate_dataset(tmp_path / "data", subjects=1, n_per_class=3))
    dec, m = train_decoder(ds, epochs=1, gan_steps=1, text_encoder=f"clip:{root}")
    dec.save(tmp_path / "model")
    back = TwoBranchDecoder.load(tmp_path / "model")
    assert back.hparams["text_encoder"] == f"clip:{root}"
    out = back.forward(np.zeros((2, 128, 175), np.float32))
    assert out["embedding"].shape == (2, 77, 32)
    assert np.isfinite(m["val_embedding_mse"])


def test_a_text_encoder_that_is_not_clip_is_refused_when_it_loads(tmp_path):
    """clip: at a pipeline whose text encoder is BERT (eegviz's own default model): CLIPTextModel built itself
    from the BERT config with a warning, and training failed minutes later with an IndexError traceback."""
    from transformers import BertConfig, BertModel

    root = tiny_sd_text_folder(tmp_path / "sd")
    BertModel(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                         intermediate_size=64)).save_pretrained(root / "text_encoder")
    with pytest.raises(EegvizError, match=r"--text-encoder clip:.*: its text encoder is 'bert', not CLIP"):
        make_text_encoder(f"clip:{root}")


@pytest.mark.parametrize("damage", [{"num_hidden_layers": "x"}, {"hidden_size": 64}])
def test_a_damaged_clip_text_encoder_is_one_line(tmp_path, damage):
    """A config field of the wrong type or a width the weights do not have was a transformers traceback."""
    import json

    root = tiny_sd_text_folder(tmp_path / "sd")
    cfg = root / "text_encoder" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), **damage}))
    with pytest.raises(EegvizError, match=r"cannot load the CLIP text encoder in .*: a file of its text_encoder/ or "
                                          r"tokenizer/ is missing or corrupt") as err:
        make_text_encoder(f"clip:{root}")
    assert "\n" not in str(err.value)


def test_a_bare_clip_folder_still_loads(tmp_path):
    """A CLIP folder (config, weights and tokenizer files side by side, no text_encoder/ subfolder)."""
    import shutil

    root = tiny_sd_text_folder(tmp_path / "sd")
    bare = tmp_path / "clip"
    shutil.copytree(root / "text_encoder", bare)
    shutil.copytree(root / "tokenizer", bare, dirs_exist_ok=True)
    assert make_text_encoder(f"clip:{bare}").encode(["a star"]).shape == (1, 77, 32)


def test_an_sd_folder_of_fp16_variant_weights_only_gives_its_clip_space(tmp_path):
    """`--text-encoder clip:SD` on a folder holding model.fp16.safetensors only (the fp16 download of SD-Turbo,
    which the generator loads) said it was "not a local folder with text_encoder/ ... nor in the HF cache"."""
    import torch
    from transformers import CLIPTextModel

    root = tiny_sd_text_folder(tmp_path / "sd")
    full = ClipTextEncoder(str(root)).encode(["a star"])  # (make_text_encoder keeps one per path and process)
    te = CLIPTextModel.from_pretrained(root / "text_encoder")
    (root / "text_encoder" / "model.safetensors").unlink()
    te.to(torch.float16).save_pretrained(root / "text_encoder", variant="fp16")
    enc = ClipTextEncoder(str(root))
    assert enc.model.dtype == torch.float32
    np.testing.assert_allclose(enc.encode(["a star"]), full, atol=2e-2)
