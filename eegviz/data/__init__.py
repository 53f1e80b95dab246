"""Datasets: the synthetic world, EEG-ImageNet, THINGS-EEG2, and the user's own XDF sessions."""
