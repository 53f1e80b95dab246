"""The two-branch NeuroImagen decoder: pixel level (triplet encoder + saliency GAN), sample level (EEG -> text embedding)."""
