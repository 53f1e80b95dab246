"""What a session leaves on disk: the lossless recording (XDF) in a never-overwritten session folder, per-marker
results and the run report; and `eegviz record` (every LSL stream, no model)."""
