"""The TTS model: a decoder-only backbone that emits one semantic id per frame and a flow-matching head
that turns each frame's backbone state into its acoustic latent (see ../../shared/DESIGN.md)."""
