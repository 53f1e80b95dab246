"""From samples to the epochs a model reads: marker-locked epoching on a ring buffer (epocher), the preprocessing
shared by the live path and training (preprocess; montage: a cap mapped onto the model's), and what keeps a live
stream honest on the way (dejitter, counter, bads; repeats: averaging a stimulus shown again)."""
