"""Generators turn a saliency map and a text embedding into an image (embedded default; diffusers SD img2img)."""
