"""The neural audio codec: 24 kHz speech <-> 12.5 Hz frames (a semantic VQ id + an FSQ acoustic
latent per 80 ms), decoded by Vocos blocks, with a streaming decoder. See ../shared/DESIGN.md."""
