import torch

from flowtts.generation.generator import Generator, SamplingParams, StreamRequest
from flowtts.model.sequence import Segment, frame_segment, text_part, voice_prefix
from flowtts.model.tts import TTSModel
from flowtts.text.tokenizer import SpecialIds
from tests.model.helpers import tiny_tts_config

SPECIALS = SpecialIds(
    pad=0, unk=1, bos=2, eos=3, begin_audio=13, audio=14, next=15, repeat=16, langs={"en": 4}
)


def model() -> TTSModel:
    torch.manual_seed(0)
    return TTSModel(tiny_tts_config()).eval()


def request(gen: Generator, text: list[int], prompt_frames: int = 3, **kw) -> StreamRequest:
    cfg = gen.config
    torch.manual_seed(1)
    prefix = voice_prefix(
        SPECIALS,
        torch.randint(0, cfg.codebook_size, (prompt_frames,)),
        torch.rand(prompt_frames, cfg.acoustic_dim),
    )
    params = kw.pop("params", SamplingParams(steps=4, seed=7, temperature=1.0))
    return StreamRequest(
        text=text_part(SPECIALS, text, cfg.acoustic_dim),
        prefix=gen.prefill_voice(prefix),
        params=params,
        **kw,
    )


def run(gen: Generator, requests: list[StreamRequest]) -> dict:
    batch = gen.start(requests)
    out: dict = {r.tag: [] for r in requests}
    while batch.active:
        step, batch = gen.step(batch)
        for i, tag in enumerate(step.tags):
            out[tag].append(
                (
                    int(step.semantic[i]),
                    step.acoustic[i].clone(),
                    bool(step.finished[i]),
                    bool(step.forced[i]),
                )
            )
    return out


def test_max_frames_caps_generation_and_min_frames_blocks_end() -> None:
    gen = Generator(model())
    out = run(gen, [request(gen, [4, 20, 21], tag="a", min_frames=5, max_frames=12)])["a"]
    assert 5 < len(out) <= 13
    assert out[-1][2]  # the last step finishes the stream
    assert all(not f for _, _, f, _ in out[:-1])
    if len(out) == 13:
        assert out[-1][3]  # forced by the cap


def test_seeded_streams_do_not_depend_on_the_batch() -> None:
    gen = Generator(model())
    alone = run(gen, [request(gen, [4, 20, 21, 22], tag="a", max_frames=10)])["a"]
    together = run(
        gen,
        [
            request(gen, [4, 30], tag="b", max_frames=6, params=SamplingParams(steps=8, cfg=2.0, seed=3)),
            request(gen, [4, 20, 21, 22], tag="a", max_frames=10),
        ],
    )["a"]
    assert [x[0] for x in alone] == [x[0] for x in together]
    for (_, a, _, _), (_, b, _, _) in zip(alone, together, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_generation_states_match_a_full_forward_over_the_result() -> None:
    m = model()
    gen = Generator(m)
    r = request(gen, [4, 20, 21], tag="a", max_frames=6, params=SamplingParams(steps=2, cfg=1.0, seed=1))
    frames = run(gen, [r])["a"]
    ids = torch.tensor([f[0] for f in frames if not f[2]])
    ac = torch.stack([f[1] for f in frames if not f[2]])
    torch.manual_seed(1)
    cfg = m.config
    prefix = voice_prefix(
        SPECIALS, torch.randint(0, cfg.codebook_size, (3,)), torch.rand(3, cfg.acoustic_dim)
    )
    seq = Segment.cat(
        [prefix, text_part(SPECIALS, [4, 20, 21], cfg.acoustic_dim), frame_segment(ids, ac, SPECIALS.audio)]
    )
    h = m.backbone(m.embed(seq.tokens[None], seq.is_frame[None], seq.semantic[None], seq.acoustic[None]))[0]
    greedy = m.semantic_logits(h).argmax(-1)
    # greedy choice at each predicting position reproduces the generated ids (cfg 1, temperature 0 default)
    start = prefix.length + 3 + 2 - 1  # the last <begin_audio>
    assert greedy[start : start + len(ids)].tolist() == ids.tolist()


def test_acoustic_is_on_the_grid() -> None:
    gen = Generator(model())
    out = run(gen, [request(gen, [4, 20], tag="a", max_frames=4)])["a"]
    for _, ac, fin, _ in out:
        if not fin:
            assert ac.abs().max() <= 1
            assert torch.allclose((ac + 1) * 10, torch.round((ac + 1) * 10), atol=1e-4)


def test_a_batched_prefill_equals_prefilling_each_request_alone() -> None:
    gen = Generator(model())
    short = request(gen, [4, 20], tag="s", prompt_frames=2)
    long = request(gen, [4, 20, 21, 22, 23, 24], tag="l", prompt_frames=5)
    both = gen.start([short, long])  # text widths 4 and 8: the short row is padded
    for row, r in enumerate((short, long)):
        alone = gen.start([r])
        assert torch.allclose(both.hidden[row], alone.hidden[0], atol=1e-5)
        n = int(alone.cache.lengths[0])
        assert int(both.cache.lengths[row]) == n == r.prefix.length + r.text.length
        for a, b in zip(alone.cache.k, both.cache.k, strict=True):
            assert torch.allclose(a[0, :, :n], b[row, :, :n], atol=1e-5)
    assert gen.start([]).size == 0
