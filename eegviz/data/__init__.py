"""Datasets: the synthetic world, EEG-ImageNet, THINGS-EEG2, and the user's own XDF sessions; and what `train` and
`eval --reject-uv` leave out of them as artefacts (artefacts.py)."""
