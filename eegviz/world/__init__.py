"""The synthetic world: procedural stimuli with captions and silhouettes, and an EEG simulator."""
