"""Ring buffer, marker-locked epoching, and the preprocessing shared by the live path and training."""
