"""`eegviz train`: the decoder and the embedded generator into one model folder; the tools that refit one part of
a folder (latent_branch, saliency_stage); and `eegviz sweep`."""
