"""The two-branch NeuroImagen decoder (two_branch). Pixel level: triplet encoder, attribute encoder and saliency
GAN, and the latent branch (EEG -> the generator VAE's latent, a ridge readout); sample level: EEG -> text
embedding."""
