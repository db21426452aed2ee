"""Codec quantizers: a VQ for the semantic id and FSQ for the acoustic latent of each frame."""

from codec.quantizers.fsq import FSQ, FSQConfig, QuantizedResult
from codec.quantizers.vq import VectorQuantizer, VQConfig, VQResult, VQUsage

__all__ = ["FSQ", "FSQConfig", "QuantizedResult", "VQConfig", "VQResult", "VQUsage", "VectorQuantizer"]
