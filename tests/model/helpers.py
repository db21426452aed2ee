"""Tiny random TTS configs for fast CPU tests."""

from __future__ import annotations

from flowtts.model.config import BackboneConfig, FlowHeadConfig, TTSConfig


def tiny_tts_config(**over) -> TTSConfig:
    base = dict(
        text_vocab_size=64,
        codebook_size=32,
        acoustic_dim=6,
        fsq_levels=21,
        backbone=BackboneConfig(dim=32, layers=2, heads=4, kv_heads=2, ffn_dim=64, max_positions=256),
        flow=FlowHeadConfig(dim=32, layers=1, heads=2, ffn_dim=64),
    )
    base.update(over)
    return TTSConfig(**base)


TINY_SENTENCES = [
    ("en", "Hello there, how are you today?"),
    ("en", "The quick brown fox jumps over the lazy dog."),
    ("en", "It costs five dollars and twenty cents."),
    ("fr", "Bonjour, comment allez-vous aujourd'hui ?"),
    ("de", "Guten Morgen, wie geht es dir heute?"),
] * 4


def make_tiny_model_dir(root):
    """A complete, random, tiny model folder (codec, tokenizer, TTS weights, one preset voice) under ``root``.

    Small enough for unit tests of everything that loads a model (API, CLI, server); it speaks noise.
    """
    from pathlib import Path

    import torch

    from codec.config import CodecConfig, DecoderConfig, EncoderConfig, PhonemeHeadConfig
    from codec.model import Codec
    from codec.quantizers.fsq import FSQConfig
    from codec.quantizers.vq import VQConfig
    from codec.release import save_codec
    from flowtts.model.tts import TTSModel
    from flowtts.release import write_model_dir
    from flowtts.text.tokenizer import Tokenizer, TokenizerConfig
    from flowtts.voices import Voice

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    codec_config = CodecConfig(
        encoder=EncoderConfig(
            n_mels=16, dim=16, conv_blocks=(1, 1), attn_dim=16, attn_layers=(1, 1), heads=2
        ),
        decoder=DecoderConfig(frame_dim=16, frame_blocks=1, dim=16, intermediate_dim=32, num_layers=1),
        vq=VQConfig(codebook_size=64, dim=4),
        fsq=FSQConfig(dim=4, levels=21),
        phoneme_head=PhonemeHeadConfig(dim=8, blocks=1),
    )
    codec_path = root.parent / f"{root.name}-codec.safetensors"
    save_codec(Codec(codec_config), codec_path)
    tok_path = root.parent / f"{root.name}-tokenizer.model"
    tok = Tokenizer.train(TINY_SENTENCES, tok_path, TokenizerConfig(vocab_size=400))
    config = tiny_tts_config(text_vocab_size=tok.vocab_size, codebook_size=64, acoustic_dim=4)
    write_model_dir(root, TTSModel(config), codec_path, tok_path, extra={"name": "tiny-random"})
    g = torch.Generator().manual_seed(1)
    Voice(
        "tiny-voice",
        torch.randint(0, 64, (40,), generator=g),
        torch.round(torch.rand(40, 4, generator=g) * 20) / 10 - 1,
        transcript="Random frames.",
        lang="en",
    ).save(root / "voices" / "tiny-voice.safetensors")
    return root
