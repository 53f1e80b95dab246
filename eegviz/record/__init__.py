"""Lossless recording (XDF) and per-epoch results."""
