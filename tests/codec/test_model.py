"""Codec encode/decode contracts, causality of encoder and decoder, chunked encode, the training forward."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from codec import model as codec_model
from codec.config import CodecConfig, DecoderConfig
from codec.frames import Frames
from codec.model import Codec, CodecOutput, QuantizerDropout
from flowtts.constants import FRAME_SAMPLES
from tests.codec.helpers import random_frames, speechlike, tiny_config

LOOKAHEAD = 360


def _wav(seconds: float, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.stack([torch.from_numpy(speechlike(seconds, seed + b)) for b in range(batch)])


# --- encode / decode contracts ------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [1, 1919, 1920, 1921, 5 * 1920 + 7])
def test_encode_shapes_and_values(codec: Codec, samples: int) -> None:
    wav = torch.randn(2, samples) * 0.1
    frames = codec.encode(wav)
    t = math.ceil(samples / FRAME_SAMPLES)
    assert isinstance(frames, Frames)
    assert frames.semantic.shape == (2, t) and frames.semantic.dtype == torch.long
    assert frames.acoustic.shape == (2, t, 4) and frames.acoustic.dtype == torch.float32
    assert (frames.codebook_size, frames.fsq_levels) == (16, 5)
    frames.check_values()  # ids in [0, 16), acoustic on the 5-level grid
    audio = codec.decode(frames)
    assert audio.shape == (2, t * FRAME_SAMPLES) and torch.isfinite(audio).all()


def test_one_dimensional_input_is_a_batch_of_one(codec: Codec) -> None:
    wav = _wav(0.5)[0]
    one = codec.encode(wav)
    two = codec.encode(wav[None])
    assert one.batch_size == 1 and one.num_frames == math.ceil(len(wav) / FRAME_SAMPLES)
    assert torch.equal(one.semantic, two.semantic) and torch.equal(one.acoustic, two.acoustic)


def test_padding_to_frames_is_zeros(codec: Codec) -> None:
    wav = _wav(0.3)
    padded = Codec.pad_to_frames(wav)
    assert padded.shape[-1] % FRAME_SAMPLES == 0 and torch.equal(padded[:, : wav.shape[-1]], wav)
    assert not padded[:, wav.shape[-1] :].any()
    assert Codec.pad_to_frames(torch.zeros(1, 0)).shape == (1, FRAME_SAMPLES)
    # encoding the unpadded and the zero-padded signal is the same thing
    a, b = codec.encode(wav), codec.encode(padded)
    assert torch.equal(a.semantic, b.semantic) and torch.equal(a.acoustic, b.acoustic)


def test_encode_does_not_move_the_codebook_in_training_mode(codec: Codec) -> None:
    codec.train()
    before = codec.vq.embedding_sum.clone()
    codec.encode(_wav(0.5))
    assert torch.equal(codec.vq.embedding_sum, before) and codec.vq.training


def test_phonemes_from_ids(codec: Codec) -> None:
    frames = codec.encode(_wav(0.5, batch=2))
    phones = codec.phonemes_from_ids(frames.semantic)
    assert len(phones) == 2 and all(p in ("a", "b", "c") for row in phones for p in row)
    with pytest.raises(ValueError, match="no phoneme head"):
        Codec(tiny_config(phonemes=())).phonemes_from_ids(frames.semantic)


# --- chunked encode -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 4, 7])
def test_chunked_encode_equals_one_pass(codec: Codec, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    wav = _wav(2.5, batch=2, seed=chunk)  # 32 frames; receptive field is 13 frames
    assert codec.encoder.receptive_field_frames == 13
    one_pass = codec.encode(wav)
    monkeypatch.setattr(codec_model, "ENCODE_CHUNK_FRAMES", chunk)
    chunked = codec.encode(wav)
    assert chunked.semantic.shape == one_pass.semantic.shape
    # Acoustic values are rounded to the grid and ids are argmaxes: float noise between the two passes
    # (different tensor lengths -> different reduction order) could in principle flip a value sitting
    # exactly on a decision boundary of a random model; none does here, and at most 1 % may.
    assert (chunked.semantic != one_pass.semantic).float().mean() <= 0.01
    assert (chunked.acoustic != one_pass.acoustic).float().mean() <= 0.01
    # the continuous latents are where equality is tight
    context = codec.encoder.receptive_field_frames
    full = codec.encoder(Codec.pad_to_frames(wav))
    for start in range(0, full.shape[1], chunk):
        left = max(0, start - context)
        part = codec.encoder(
            Codec.pad_to_frames(wav)[:, left * FRAME_SAMPLES : (start + chunk) * FRAME_SAMPLES]
        )
        torch.testing.assert_close(
            part[:, start - left :], full[:, start : start + chunk], atol=1e-5, rtol=1e-4
        )


def test_receptive_field_is_not_too_small(codec: Codec) -> None:
    """Frame f must not depend on samples before frame f - receptive_field_frames (the chunking bound)."""
    context = codec.encoder.receptive_field_frames
    wav = _wav(3.0)
    wav = Codec.pad_to_frames(wav)
    f = 30
    base = codec.encoder(wav)[:, f]
    changed = wav.clone()
    changed[:, : (f - context) * FRAME_SAMPLES] = torch.randn(1, (f - context) * FRAME_SAMPLES)
    torch.testing.assert_close(codec.encoder(changed)[:, f], base, atol=1e-5, rtol=1e-4)


# --- causality ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 12])
def test_encoder_is_causal(codec: Codec, k: int) -> None:
    wav = Codec.pad_to_frames(_wav(1.5, batch=2))  # 19 frames
    full = codec.encoder(wav)
    prefix = codec.encoder(wav[:, : k * FRAME_SAMPLES])
    assert prefix.shape[1] == k
    torch.testing.assert_close(prefix, full[:, :k], atol=1e-5, rtol=1e-4)
    # changing every sample after frame k - 1 leaves frames 0 .. k-1 alone and does change frame k
    changed = wav.clone()
    changed[:, k * FRAME_SAMPLES :] = torch.randn_like(changed[:, k * FRAME_SAMPLES :])
    out = codec.encoder(changed)
    torch.testing.assert_close(out[:, :k], full[:, :k], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(out[:, k], full[:, k], atol=1e-4)


@pytest.mark.parametrize("k", [0, 3, 9])
def test_decoder_is_causal_up_to_the_istft_lookahead(codec: Codec, k: int) -> None:
    """Frames after k reach back only through the ISTFT overlap: samples before 1920·(k+1) - 360 are final."""
    frames = random_frames(codec, batch=2, frames=12, seed=k)
    x = codec.frame_inputs(frames)
    with torch.no_grad():
        out = codec.decoder(x)
        changed = x.clone()
        changed[:, k + 1 :] = torch.randn_like(changed[:, k + 1 :])
        out2 = codec.decoder(changed)
    bound = FRAME_SAMPLES * (k + 1) - LOOKAHEAD
    torch.testing.assert_close(out2[:, :bound], out[:, :bound], atol=1e-6, rtol=1e-5)
    # the bound is tight: the window of hop 8·(k+1) starts at `bound` (the periodic Hann window is 0 at its
    # first sample, so sample `bound` itself is unchanged), and the samples right after it hear frame k + 1
    assert (out2[:, bound + 1 : bound + 4] - out[:, bound + 1 : bound + 4]).abs().min() > 0


# --- training forward ---------------------------------------------------------------------------------------


def _train_codec(**overrides: object) -> Codec:
    torch.manual_seed(0)
    return Codec(tiny_config(**overrides)).train()


def test_forward_output_fields_and_shapes() -> None:
    c = _train_codec()
    wav = Codec.pad_to_frames(_wav(0.8, batch=3))  # 10 frames
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 7:] = False
    out = c(wav, mask, QuantizerDropout())
    assert isinstance(out, CodecOutput)
    assert out.audio.shape == wav.shape
    assert out.semantic.indices.shape == (3, 10) and out.semantic.quantized.shape == (3, 10, 8)
    assert out.semantic.commitment_loss.shape == () and out.semantic.perplexity.shape == ()
    assert out.acoustic.values.shape == (3, 10, 4) and out.acoustic.codes.shape == (3, 10, 4)
    assert out.phoneme_logprobs is not None and out.phoneme_logprobs.shape == (3, 30, 4)
    torch.testing.assert_close(out.phoneme_logprobs.exp().sum(-1), torch.ones(3, 30))
    assert Codec(tiny_config(phonemes=()))(wav).phoneme_logprobs is None


def test_reconstruction_gradient_reaches_the_encoder_through_both_quantizers() -> None:
    c = _train_codec()
    wav = Codec.pad_to_frames(_wav(0.5, batch=2))
    out = c(wav)  # no dropout: the decoder reads the quantized codeword and the FSQ values
    out.audio.pow(2).mean().backward()
    w = c.encoder.out.weight.grad  # [vq.dim + fsq.dim, attn_dim]
    assert w is not None
    assert w[:8].abs().sum() > 0  # semantic rows: through the VQ straight-through estimator
    assert w[8:].abs().sum() > 0  # acoustic rows: through the FSQ straight-through estimator
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in c.encoder.blocks_100.parameters())
    # the codebook is EMA state, not a parameter
    assert not any(p is c.vq.embedding_sum for p in c.parameters())


def test_ctc_gradient_reaches_only_the_semantic_half() -> None:
    c = _train_codec()
    wav = Codec.pad_to_frames(_wav(0.5, batch=2))
    lp = c(wav).phoneme_logprobs  # [B, T·3, 4]
    targets = torch.tensor([1, 2, 3, 1, 1])
    loss = F.ctc_loss(lp.transpose(0, 1), targets, torch.tensor([lp.shape[1]] * 2), torch.tensor([3, 2]))
    loss.backward()
    w = c.encoder.out.weight.grad
    assert w[:8].abs().sum() > 0  # the CTC head reads the codewords; the STE passes its gradient on
    assert w[8:].abs().sum() == 0  # the acoustic half is invisible to the phoneme head
    assert c.encoder.stem.conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in c.decoder.parameters())


def test_quantizer_dropout_only_in_training_mode() -> None:
    c = _train_codec()
    wav = Codec.pad_to_frames(_wav(0.5, batch=2))
    bypass = QuantizerDropout(vq_bypass=1.0, fsq_quantize=0.0, fsq_dither=0.0)  # all continuous

    c.eval()
    with torch.no_grad():
        plain = c(wav).audio
        dropped = c(wav, dropout=bypass).audio
    torch.testing.assert_close(dropped, plain, atol=0, rtol=0)  # eval: dropout ignored

    c.train()
    with torch.no_grad():
        out = c(wav, dropout=bypass)
        latents = c.encoder(wav)
        continuous = torch.cat([F.normalize(latents[..., :8], dim=-1), torch.tanh(latents[..., 8:])], dim=-1)
        expected = c.decoder(continuous)
        quantized = c.decoder(torch.cat([out.semantic.quantized, out.acoustic.values], dim=-1))
    torch.testing.assert_close(out.audio, expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(out.audio, quantized, atol=1e-4)
    # the phoneme head always reads the quantized codewords
    with torch.no_grad():
        torch.testing.assert_close(out.phoneme_logprobs, c.phoneme_head(out.semantic.quantized))

    never = QuantizerDropout(vq_bypass=0.0, fsq_quantize=1.0, fsq_dither=0.0)  # training, but all quantized
    with torch.no_grad():
        out = c(wav, dropout=never)
        expected = c.decoder(torch.cat([out.semantic.quantized, out.acoustic.values], dim=-1))
    torch.testing.assert_close(out.audio, expected, atol=1e-5, rtol=1e-4)


def test_decoder_config_checks() -> None:
    assert CodecConfig().lookahead_samples == LOOKAHEAD
    for n_fft in (300, 481):  # shorter than two hops; odd
        with pytest.raises(ValueError, match="n_fft"):
            CodecConfig(decoder=DecoderConfig(n_fft=n_fft))
    assert CodecConfig(decoder=DecoderConfig(n_fft=1200)).lookahead_samples == 480
