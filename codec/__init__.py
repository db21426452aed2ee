"""The neural audio codec: 24 kHz speech <-> 12.5 Hz frames (a semantic VQ id + an FSQ acoustic
latent per 80 ms), decoded by Vocos blocks, with a streaming decoder. See ../shared/DESIGN.md.

    from codec import load_codec
    codec = load_codec("path/to/model")        # folder with codec.json + codec.safetensors
    frames = codec.encode(wav)                  # [B, S] float at 24 kHz -> Frames
    audio = codec.decode(frames)                # -> [B, 1920·T]
"""

from codec.config import CodecConfig
from codec.frames import Frames
from codec.release import load_codec, save_codec

__all__ = ["CodecConfig", "Frames", "load_codec", "save_codec"]
