"""`eegviz bench`: the speed and robustness figures, measured rather than asserted in timed tests.

- latency: the embedded default end to end on simulated epochs (per-stage percentiles, throughput, memory), and
  for a diffusers pipeline folder its lean loop against the plain diffusers call on the same weights (lean.py);
- sd: one img2img image at 512x512 through the SD-Turbo-architecture UNet, against plain diffusers and a
  NeuroImagen-style 50-step run;
- soak: a live LSL session for minutes (publisher process in publisher.py), every sample and marker checked;
- reconnect: how fast LslSource finds an outlet again after it vanished.

Nothing is imported here, so `python -m eegviz.bench.publisher` starts without torch.
"""
