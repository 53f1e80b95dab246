"""Training loops for the decoder and the embedded generator."""
