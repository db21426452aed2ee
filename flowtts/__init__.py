"""flowtts: Voxtral-style streaming text-to-speech.

A decoder-only transformer emits one semantic token per 80 ms frame, a flow-matching head denoises
that frame's acoustic latent, and a Vocos-based codec turns frames into 24 kHz audio as they arrive.
Importing this package is cheap: heavy modules (torch, the corpus builder) load on first use.
"""

__version__ = "0.1.0"


def load(model=None, device: str = "cpu", voices_dir=None):
    """Loads a model folder (default: the embedded default model) -> ``flowtts.api.TTS``."""
    from flowtts.api import load as _load

    return _load(model, device=device, voices_dir=voices_dir)
