import numpy as np
import pytest
import torch

import flowtts
from flowtts.errors import FlowTTSError
from tests.model.helpers import make_tiny_model_dir


@pytest.fixture(scope="module")
def tts(tmp_path_factory):
    root = make_tiny_model_dir(tmp_path_factory.mktemp("m") / "model")
    return flowtts.load(root, voices_dir=str(tmp_path_factory.mktemp("voices")))


def test_stream_equals_synthesize_and_is_seeded(tts) -> None:
    chunks = list(tts.stream("Hello there. Bye now.", seed=3))
    whole = tts.synthesize("Hello there. Bye now.", seed=3)
    assert whole.sample_rate == 24000
    assert np.array_equal(np.concatenate(chunks), whole.samples)
    assert len(whole.samples) % 1920 == 0  # whole frames
    again = tts.synthesize("Hello there. Bye now.", seed=3)
    assert np.array_equal(again.samples, whole.samples)


def test_length_is_capped_by_the_text(tts) -> None:
    a = tts.synthesize("Hi!", seed=0)
    cap = tts.config.sampling.min_max_frames  # "Hi!" is short: the floor of the cap applies
    assert len(a.samples) <= (cap + 1) * 1920


def test_voices_presets_and_clone(tts) -> None:
    assert "tiny-voice" in tts.list_voices()
    v = tts.clone(
        np.random.default_rng(0).standard_normal(24000 * 4).astype(np.float32) * 0.1, 24000, name="n"
    )
    assert v.num_frames > 0
    assert tts.synthesize("Hi!", voice=v, seed=0).duration > 0
    with pytest.raises(FlowTTSError, match="unknown voice"):
        tts.synthesize("Hi", voice="nope")


@pytest.mark.parametrize("text", ["", "   ", "x" * 200_001])
def test_bad_text(tts, text) -> None:
    with pytest.raises(FlowTTSError):
        tts.synthesize(text)


def test_bad_options(tts) -> None:
    with pytest.raises(FlowTTSError):
        tts.synthesize("Hi", lang="xx")
    with pytest.raises(FlowTTSError):
        tts.synthesize("Hi", steps=0)
    with pytest.raises(FlowTTSError):
        tts.synthesize("Hi", speed=5)


def test_long_sentences_are_cut_to_fit(tts) -> None:
    text = "word " * 400  # one 2,000-character sentence without punctuation
    parts = tts.sentences(text, "en")
    assert len(parts) >= 7 and all(len(p) <= 300 for p in parts)
    params = tts._params(None, None, 0, None, None)
    voice = tts._resolve_voice(None)
    # the tiny model has 256 positions: a 300-character piece does not fit, and that is a clean error
    with pytest.raises(FlowTTSError, match="no room"):
        tts.request(parts[0], voice, "en", params)
    # a piece that fits gets a length cap that keeps the whole sequence inside the model
    req = tts.request("word " * 30, voice, "en", params)
    assert req.prefix.length + req.text.length + req.max_frames + 1 <= tts.config.backbone.max_positions


def test_a_long_voice_clip_is_cut_to_the_trained_prompt_length(tts) -> None:
    from flowtts.voices import Voice

    keep = tts.config.sampling.max_prompt_frames
    d = tts.config.acoustic_dim
    t = keep + 40
    sem = torch.arange(t) % 7
    long_voice = Voice("long", sem, torch.zeros(t, d))
    start = (t - keep) // 2
    middle = Voice("middle", sem[start : start + keep], torch.zeros(keep, d))
    a = tts._prefix(long_voice)
    b = tts._prefix(middle)
    assert a.length == b.length
    assert np.array_equal(
        tts.synthesize("Hi!", voice=long_voice, seed=0).samples,
        tts.synthesize("Hi!", voice=middle, seed=0).samples,
    )


def test_the_default_voice_speaks_the_requested_language(tmp_path) -> None:
    from flowtts.voices import Voice

    root = make_tiny_model_dir(tmp_path / "model")
    d = flowtts.load(root, voices_dir=str(tmp_path / "lib")).config.acoustic_dim
    for name, lang in (("a-voice", "de"), ("b-voice", "fr")):
        Voice(name, torch.zeros(40, dtype=torch.long), torch.zeros(40, d), lang=lang).save(
            root / "voices" / f"{name}.safetensors"
        )
    tts = flowtts.load(root, voices_dir=str(tmp_path / "lib"))
    assert tts.default_voice("fr") == "b-voice"
    assert tts.default_voice("en") == "tiny-voice"
    assert tts.default_voice("es") == "a-voice"  # nobody speaks it: the first preset


def test_a_voice_named_by_string_is_loaded_once_and_reloaded_when_its_file_changes(tmp_path) -> None:
    from flowtts.voices import Voice, VoiceLibrary

    lib = VoiceLibrary(tmp_path)
    lib.add(Voice("v", torch.zeros(40, dtype=torch.long), torch.zeros(40, 4), lang="en"))
    first = lib.get("v")
    assert lib.get("v") is first  # the same object: per-voice caches (prompt KV) hit
    lib.add(Voice("v", torch.ones(50, dtype=torch.long), torch.zeros(50, 4), lang="fr"), overwrite=True)
    again = lib.get("v")
    assert again is not first and again.lang == "fr" and again.num_frames == 50
    lib.remove("v")
    with pytest.raises(FlowTTSError, match="unknown voice"):
        lib.get("v")


def test_the_voice_prompt_is_computed_once_for_a_voice_named_by_string(tts) -> None:
    name = tts.list_voices()[0]
    assert tts._prefix(tts.get_voice(name)) is tts._prefix(tts.get_voice(name))


def test_warm_up_turns_on_the_traced_steps_and_the_audio_stays_the_same(tmp_path) -> None:
    root = make_tiny_model_dir(tmp_path / "model")
    tts = flowtts.load(root, voices_dir=str(tmp_path / "voices"))
    eager = tts.synthesize("Hello there.", seed=5)
    tts.warm_up()
    assert tts.generator.traced is not None and len(tts.generator.traced.graphs) >= 2
    traced = tts.synthesize("Hello there.", seed=5)
    assert traced.samples.shape == eager.samples.shape
    assert np.allclose(traced.samples, eager.samples, atol=1e-4)
