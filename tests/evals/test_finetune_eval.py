"""`flowtts eval finetune` (issue 7's protocol) on a tiny random model and a tiny corpus of tone-burst
"speech": the model does not speak, so the numbers mean nothing; the protocol's mechanics are what is tested
(voice choice, a disjoint partition under the minutes cap, the fine-tune run, the report and its pass/fail
logic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evals.finetune_eval import (
    choose_reference,
    finetune_checks,
    held_out_voices,
    overall_verdict,
    partition_voice,
    plan_finetune_eval,
    write_finetune_data,
)
from flowtts.cli import build_parser, main
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError
from tests.data.helpers import utterance
from tests.data.test_synth import EN
from tests.finetune.helpers import WORDS, short_model_dir, speech


def _sentence(k: int) -> str:
    """A distinct 10-word sentence for each k (prepare accepts 10 words on a 3.5 s clip)."""
    rng = np.random.default_rng(1000 + k)
    return " ".join(rng.choice(WORDS, 10)) + "."


# (voice, lang, seen, split, clips): v-held speaks every sentence twice (clips k and k + 12)
VOICES = [
    ("v-seen", "en", True, "train", 3),
    ("v-held", "en", False, "test", 24),
    ("v-a-small", "en", False, "valid", 6),  # first by name, but too few clips for 4 sentences
    ("v-fr", "fr", False, "test", 8),  # not English: never chosen by auto
]


def _make_corpus(root: Path, voices=VOICES) -> Path:
    (root / "audio").mkdir(parents=True)
    rows = []
    for vi, (voice, lang, seen, split, n) in enumerate(voices):
        for k in range(n):
            uid = f"{voice}-{k:02d}"
            x = speech(10, 24000, seed=100 * vi + k)
            sf.write(root / "audio" / f"{uid}.flac", x, 24000)
            text = _sentence(100 * vi + (k % 12 if voice == "v-held" else k))
            rows.append(utterance(uid, voice, split, seen, len(x) / 24000, text, lang))
    (root / "manifests").mkdir()
    write_manifest(root / "manifests" / "00000.jsonl", rows)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _make_corpus(tmp_path_factory.mktemp("ft-corpus"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return short_model_dir(tmp_path_factory.mktemp("ft-model") / "model")


def _synthetic(durations: list[float], voice: str = "v", texts: list[str] | None = None) -> list[Utterance]:
    texts = texts or [f"sentence number {k}" for k in range(len(durations))]
    pairs = enumerate(zip(durations, texts, strict=True))
    return [utterance(f"u{k:03d}", voice, "test", False, d, t) for k, (d, t) in pairs]


# --- partition ----------------------------------------------------------------------------------------------


def test_partition_is_disjoint_and_respects_the_minutes_cap():
    durations = [2.0 + (k * 7 % 11) for k in range(80)]  # 2–12 s
    texts = [f"sentence {k % 60}" for k in range(80)]  # 20 sentences spoken twice
    rows = _synthetic(durations, texts=texts)
    p = partition_voice(rows, minutes=2.0, sentences=10)
    eval_ids, ft_ids = {r.id for r in p.evaluation}, {r.id for r in p.finetune}
    eval_texts = set(p.evaluation_sentences)
    assert len(p.evaluation) == 10 == len(eval_texts) and not eval_ids & ft_ids
    assert not eval_texts & {r.normalized_text for r in p.finetune}  # no evaluation sentence trained on
    assert all(1.0 <= r.duration <= 20.0 for r in p.evaluation)
    assert p.seconds_finetune <= 120.0 + 1e-9 and p.limited_by == "minutes" and not p.minutes_short
    assert p.seconds_finetune > 120.0 - min(durations)  # the cap is filled as far as the clips allow
    assert set(p.dropped_same_text) == {
        r.id for r in rows if r.normalized_text in eval_texts and r.id not in eval_ids
    }
    accounted = eval_ids | ft_ids | set(p.dropped_same_text) | set(p.skipped_by_cap)
    assert accounted == {r.id for r in rows} and len(accounted) == len(eval_ids) + len(ft_ids) + len(
        p.dropped_same_text
    ) + len(p.skipped_by_cap)
    assert set(r.id for r in p.reference) <= ft_ids  # the zero-shot clip comes from the fine-tune part
    assert 8.0 <= p.reference_seconds <= 12.0
    again = partition_voice(list(reversed(rows)), minutes=2.0, sentences=10)
    assert again == p  # deterministic, whatever the manifest order


def test_a_short_voice_is_used_as_it_is_and_reported():
    rows = _synthetic([4.0] * 12)
    p = partition_voice(rows, minutes=10.0, sentences=20)
    assert len(p.evaluation) == 6 and p.sentences_short  # at most half the clips are evaluated
    assert len(p.finetune) == 6 and p.minutes_selected == pytest.approx(24 / 60)
    assert p.limited_by == "corpus" and p.minutes_short
    d = p.to_dict()
    assert d["minutes_requested"] == 10.0 and d["minutes_selected"] == pytest.approx(0.4)
    assert d["minutes_short"] and d["limited_by"] == "corpus"
    good = finetune_checks(0.6, 0.7, 0.3, 0.3, 2_000_000)
    v, why = overall_verdict(good, p)
    assert v == "incomplete" and "only 0.40 of the 10 minutes" in why[0] and "6 of 20" in why[1]
    assert overall_verdict(finetune_checks(0.7, 0.6, 0.3, 0.3, 1), p)[0] == "fail"
    with pytest.raises(FlowTTSError, match="only 1 evaluation clips"):
        partition_voice(_synthetic([4.0] * 3), 10.0, 20)


def test_zero_shot_reference_choice():
    rows = _synthetic([4.0, 9.0, 11.5, 30.0])
    assert [r.duration for r in choose_reference(rows)] == [9.0]  # one clip of 8–12 s, closest to 10
    rows = _synthetic([4.0, 3.0, 5.0, 2.0])
    ref = choose_reference(rows)
    assert [r.duration for r in ref] == [4.0, 3.0, 5.0]  # concatenated in order until ~10 s
    rows = _synthetic([20.0, 22.0])
    assert [r.duration for r in choose_reference(rows)] == [20.0]  # too long to join: the closest clip
    rows = _synthetic([6.5, 14.0])
    assert [r.duration for r in choose_reference(rows)] == [6.5]  # closer than 14 s (joined: 20.75 s)
    assert choose_reference(_synthetic([1.0, 1.5])) is None


# --- targets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "numbers, expected",
    [
        ((0.70, 0.75, 0.20, 0.21, 3_000_000), [True, True, True]),  # ratio 1.05
        ((0.75, 0.75, 0.20, 0.20, 3_000_000), [False, True, True]),  # equal cosine is not higher
        ((0.70, 0.69, 0.20, 0.23, 3_000_000), [False, False, True]),  # ratio 1.15 > 1.1
        ((0.70, 0.80, 0.20, 0.22, 5_000_000), [True, True, True]),  # exactly 1.1 and exactly 5 MB pass
        ((0.70, 0.80, 0.20, 0.20, 5_000_001), [True, True, False]),
        ((0.70, 0.80, 0.0, 0.0, 1), [True, True, True]),  # both perfect: ratio 1
        ((0.70, 0.80, 0.0, 0.1, 1), [True, False, True]),  # worse than a perfect base: ratio inf
        ((0.70, 0.80, None, None, 1), [True, None, True]),  # no recognizer
    ],
)
def test_pass_fail_logic(numbers, expected):
    zs, pk, wb, wp, size = numbers
    checks = finetune_checks(zs, pk, wb, wp, size)
    assert [c["metric"] for c in checks] == ["cosine_delta", "wer_ratio", "pack_mb"]
    assert [c["pass"] for c in checks] == expected
    assert checks[0]["value"] == pytest.approx(pk - zs) and checks[0]["op"] == ">"
    assert checks[1]["target"] == 1.1 and checks[2]["target"] == 5.0 and checks[2]["unit"] == "MB"
    assert checks[2]["value"] == pytest.approx(size / 1e6)


# --- voice choice -------------------------------------------------------------------------------------------


def test_voice_choice(corpus):
    from flowtts.data.manifest import iter_corpus

    rows = list(iter_corpus(corpus))
    assert list(held_out_voices(rows)) == ["v-a-small", "v-fr", "v-held"]
    plan = plan_finetune_eval(corpus, "auto", minutes=0.5, sentences=4)
    assert plan.voice == "v-held" and plan.choice.startswith("auto: first by name")
    assert plan_finetune_eval(corpus, "auto", minutes=0.5, sentences=4) == plan
    # nobody has 60 minutes: the voice with the most fine-tune audio, and it says so
    plan = plan_finetune_eval(corpus, "auto", minutes=60, sentences=4)
    assert plan.voice == "v-held" and plan.partition.minutes_short and "most fine-tune audio" in plan.choice
    assert plan_finetune_eval(corpus, "v-fr", minutes=0.5, sentences=3).partition.lang == "fr"
    with pytest.raises(FlowTTSError, match="v-seen is not held out .3 train clips"):
        plan_finetune_eval(corpus, "v-seen")
    with pytest.raises(FlowTTSError, match="no such voice"):
        plan_finetune_eval(corpus, "nobody")


def test_finetune_data_folder(corpus, tmp_path):
    plan = plan_finetune_eval(corpus, "v-held", minutes=0.5, sentences=4)
    folder = write_finetune_data(corpus, plan.partition, tmp_path / "data")
    texts = [p.read_text().strip() for p in folder.glob("*.txt")]
    assert len(list(folder.glob("*.flac"))) == len(texts) == len(plan.partition.finetune)
    assert not set(texts) & set(plan.partition.evaluation_sentences)
    seconds = sum(sf.info(p).duration for p in folder.glob("*.flac"))
    assert seconds == pytest.approx(plan.partition.seconds_finetune, abs=0.01) and seconds <= 30.0


# --- the command --------------------------------------------------------------------------------------------


def test_eval_finetune_end_to_end(corpus, model_dir, tmp_path, monkeypatch, capsys):
    pytest.importorskip("resemblyzer")
    pytest.importorskip("pocketsphinx")
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))
    out, work = tmp_path / "reports", tmp_path / "work"
    argv = ["eval", "finetune", "--model", str(model_dir), "--corpus", str(corpus), "--minutes", "0.5"]
    argv += ["--sentences", "4", "--steps", "10", "--val-every", "5", "--lora-rank", "4", "--lr", "3e-3"]
    argv += ["--batch-positions", "1024", "--threads", "1", "--out", str(out), "--work", str(work)]
    assert main([*argv, "--no-progress", "--save-audio", str(tmp_path / "wav")]) == 0
    stdout = capsys.readouterr().out
    assert "verdict:" in stdout and "voice pack size" in stdout
    report = json.loads((out / "finetune-v-held.json").read_text())
    assert report["kind"] == "tts_finetune" and report["eval"]["voice"] == "v-held"
    for key in ("model", "config_hash", "git_commit", "machine", "date_utc", "flowtts_version"):
        assert report[key] is not None
    r = report["results"]
    for key in (
        "cosine_zero_shot",
        "cosine_pack",
        "cosine_delta",
        "cosine_real",
        "wer_base",
        "wer_pack",
        "wer_real",
        "wer_ratio",
        "pack_bytes",
        "pack_mb",
        "finetune_wall_seconds",
        "minutes_requested",
        "minutes_selected",
        "minutes_usable",
        "steps",
    ):
        assert r[key] is not None, key
    assert r["minutes_requested"] == 0.5 and r["minutes_selected"] <= 0.5
    assert 0 < r["minutes_usable"] <= r["minutes_selected"] and r["steps"] == 10
    assert r["cosine_delta"] == pytest.approx(r["cosine_pack"] - r["cosine_zero_shot"])
    assert r["finetune_wall_seconds"] >= r["training_seconds"] > 0
    p = report["partition"]
    assert p["limited_by"] == "minutes" and not p["minutes_short"] and len(p["evaluation_clips"]) == 4
    assert not set(p["evaluation_clips"]) & set(p["finetune_clips"])
    assert set(p["reference_clips"]) <= set(p["finetune_clips"])
    data = work / "finetune-v-held" / "data"
    trained = {t.read_text().strip() for t in data.glob("*.txt")}
    assert not trained & {u["text"] for u in report["utterances"]}
    pack = work / "finetune-v-held" / "v-held"
    assert (pack / "adapter.safetensors").is_file() and not (pack / "samples").exists()
    assert r["pack_bytes"] == sum(f.stat().st_size for f in pack.rglob("*") if f.is_file())
    checks = {c["metric"]: c for c in report["checks"]}
    assert checks["cosine_delta"]["pass"] == (r["cosine_delta"] > 0)
    assert checks["wer_ratio"]["pass"] == (r["wer_ratio"] <= 1.1)
    assert checks["pack_mb"]["pass"] is True  # a rank-4 pack of the tiny model is a few kB
    expected = "fail" if any(c["pass"] is False for c in checks.values()) else "pass"
    assert report["verdict"] == expected
    assert len(report["utterances"]) == 4 and all("asr_pack" in u for u in report["utterances"])
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 8
    md = (out / "finetune-v-held.md").read_text()
    for part in ("# Voice adaptation vs zero-shot cloning", "## Targets", "## Partition", "wall time"):
        assert part in md


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error: "), err
    return err[0]


def test_a_corpus_without_a_held_out_voice(tmp_path, capsys):
    corpus = _make_corpus(
        tmp_path / "c", [("v-seen", "en", True, "train", 2), ("v-t", "en", True, "test", 2)]
    )
    argv = ["eval", "finetune", "--corpus", str(corpus), "--out", str(tmp_path / "r")]
    assert main([*argv, "--work", str(tmp_path / "w")]) == 2
    assert "no held-out voice" in _one_error_line(capsys)
    assert main([*argv, "--voice", "v-seen"]) == 2
    assert "no held-out voice" in _one_error_line(capsys)


def test_cli_bad_input(corpus, tmp_path, capsys):
    base = ["eval", "finetune", "--corpus", str(corpus), "--out", str(tmp_path / "r")]
    assert main([*base, "--voice", "v-seen"]) == 2
    assert "not held out" in _one_error_line(capsys)
    assert main([*base, "--voice", "v-held", "--batch-positions", "10"]) == 2  # checked before any work
    assert "batch_positions must be >= 64" in _one_error_line(capsys)
    assert main(["eval", "finetune", "--corpus", str(tmp_path / "missing")]) == 2
    assert "does not exist" in _one_error_line(capsys)


def test_parser():
    a = build_parser().parse_args(["eval", "finetune", "--corpus", "c"])
    assert a.func.__name__ == "run_finetune" and a.voice == "auto" and a.minutes == 10.0
    assert a.sentences == 20 and a.seed == 0 and a.steps is None and a.device == "cpu"
    assert a.render_minutes == 0.0 and a.text_cache is None
    a = build_parser().parse_args(["eval", "finetune", "--corpus", "c", "--render-minutes", "10.5"])
    assert a.render_minutes == 10.5
    a = build_parser().parse_args(["eval", "finetune", "--corpus", "c", "--lora-rank", "8", "--steps", "300"])
    assert a.rank == 8 and a.steps == 300 and a.ode_steps is None
    for bad in (["--sentences", "1"], ["--minutes", "0"], ["--steps", "0"], ["--render-minutes", "-1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["eval", "finetune", "--corpus", "c", *bad])


# --- --render-minutes: more audio of the held-out voice, rendered like the corpus ---------------------------

FRESH = [  # English sentences the tiny espeak corpus never speaks (Harvard lists 2-4)
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
    "A king ruled the state in the early days.",
    "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.",
    "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.",
    "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.",
    "Hop over the fence and plunge in.",
]


class _StubSpeaker:
    """A speaker judge without resemblyzer: the numbers mean nothing, the mechanics are tested."""

    name = "stub speaker judge"

    def embed(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.array([x.std(), np.abs(x).mean(), np.abs(np.diff(x)).mean(), 1.0])

    @staticmethod
    def cosine(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class _StubAsr:
    name = "stub recognizer"

    def __init__(self, sentences):
        self.sentences = sentences

    def transcribe(self, x):
        return self.sentences[0]


@pytest.fixture(scope="module")
def espeak_corpus(tmp_path_factory):
    """A tiny corpus rendered by `flowtts data synth`'s code with espeak-ng only, one held-out voice, and a
    text cache holding its sentences (also re-spelled: upper case, a digit) plus FRESH."""
    from flowtts.data.synth import synthesize
    from flowtts.data.synth_config import SynthConfig
    from flowtts.data.text_sources import Sentence, write_sentences

    try:
        from flowtts.data.engines.espeak import EspeakEngine

        EspeakEngine.check_installed()
    except FlowTTSError as e:
        pytest.skip(f"espeak-ng: {e}")
    root = tmp_path_factory.mktemp("espeak-corpus")
    cfg = SynthConfig(
        langs=("en",),
        hours=0.03,
        seed=3,
        shard_size=20,
        engines=("espeak",),
        heldout_group_fraction=0.05,  # one of espeak's 24 pseudo-speakers
        valid_fraction=0.2,
        test_fraction=0.2,
        min_eval_utterances=2,
    )
    texts = [Sentence(t, "en", "harvard", "public domain") for t in EN]
    synthesize(cfg, root / "corpus", jobs=1, texts={"en": texts}, progress=False)
    respelled = [t.upper() for t in EN] + [t.replace("Four ", "4 ") for t in EN if t.startswith("Four ")]
    pool = texts + [Sentence(t, "en", f"test:/{k}", "public domain") for k, t in enumerate(respelled + FRESH)]
    (root / "text").mkdir()
    write_sentences("en", root / "text", pool, 0.0)
    return root / "corpus", root / "text"


def _keys(texts) -> set[str]:
    from flowtts.data.text_filter import dedup_key

    return {dedup_key(t) for t in texts}


def test_render_minutes(espeak_corpus, model_dir, tmp_path, monkeypatch):
    from evals.finetune_eval import add_rendered_clips, finetune_eval, render_markdown
    from evals.heldout_render import render_voice_clips
    from flowtts.data.manifest import iter_corpus, read_manifest

    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))
    corpus, text_cache = espeak_corpus
    rows = list(iter_corpus(corpus))
    plain = plan_finetune_eval(corpus, "auto", minutes=0.6, sentences=3)
    assert plain.voice.startswith("espeak-en-") and plain.partition.minutes_short  # ~13 s of the 36
    plan = plan_finetune_eval(corpus, "auto", minutes=0.6, sentences=3, render_minutes=0.6)
    assert plan.voice == plain.voice and "--render-minutes" in plan.choice and "espeak" in plan.choice
    work = tmp_path / "work"
    report = finetune_eval(
        model_dir,
        corpus,
        work,
        plan=plan,
        config=eval_config_small(),
        seed=0,
        speaker_judge=_StubSpeaker(),
        asr_judge=_StubAsr,
        progress=False,
        text_cache=text_cache,
    )

    # the minutes: corpus + rendered, both in the report
    r, p = report["results"], report["partition"]
    corpus_min = plain.partition.minutes_selected
    assert r["minutes_from_corpus"] == pytest.approx(corpus_min)
    assert 0.2 < r["minutes_rendered"] <= 0.6 and r["minutes_rendered"] == pytest.approx(
        p["minutes_rendered"]
    )
    assert r["minutes_selected"] == pytest.approx(corpus_min + r["minutes_rendered"])
    assert 0.6 - 0.5 / 60 <= r["minutes_selected"] <= 0.6 and not p["minutes_short"]  # the cap is filled
    assert p["limited_by"] == "minutes" and "incomplete" not in report["verdict"]
    render = p["render"]
    assert render["needed"] and render["engine"] == "espeak" and render["voice"] == plan.voice
    assert render["params"]["variant"] == plan.voice.rsplit("-", 1)[1] and render["stopped_by"] in (
        "enough",
        "render_minutes",
    )
    assert (
        render["text_file"] == str(text_cache / "en.jsonl") and render["rendered_now"] == render["attempted"]
    )
    md = render_markdown(report)
    assert (
        f"{corpus_min:.2f} min from the corpus, {r['minutes_rendered']:.2f} min rendered for this eval" in md
    )
    assert "| rendered audio |" in md and "en.jsonl" in md and "… of which rendered for this eval" in md
    assert any("rendered for this eval" in n and "espeak" in n for n in report["notes"])

    # the evaluation clips are the corpus's own; no rendered sentence occurs in the corpus or the eval set
    assert p["evaluation_clips"] == [c.id for c in plain.partition.evaluation]
    folder = work / "rendered"
    rendered = list(read_manifest(folder / "manifest.jsonl"))
    assert set(p["rendered_clips"]) <= {x.id for x in rendered} and len(rendered) == render["clips"]
    said = _keys([x.text for x in rendered]) | _keys([x.normalized_text for x in rendered])
    assert not said & (_keys([x.text for x in rows]) | _keys([x.normalized_text for x in rows]))
    assert not said & _keys(u["text"] for u in report["utterances"])
    assert {x.voice for x in rendered} == {plan.voice} and {x.sample_rate for x in rendered} == {24000}
    for x in rendered:
        info = sf.info(folder / x.audio)
        assert info.samplerate == 24000 and abs(info.duration - x.duration) < 0.01
    data = {t.read_text().strip() for t in (work / "data").glob("*.txt")}
    assert len(data) == len(p["finetune_clips"]) and _keys(x.normalized_text for x in rendered) & _keys(data)

    # cached: the same plan again renders nothing and gives the same clips
    stamps = {f.name: f.stat().st_mtime_ns for f in (folder / "audio").iterdir()}
    again = add_rendered_clips(plan, folder, seed=0, text_cache=text_cache)
    assert again.partition.render["rendered_now"] == 0 and again.partition.render["from_cache"] > 0
    assert [x.id for x in again.partition.finetune] == p["finetune_clips"]
    assert {f.name: f.stat().st_mtime_ns for f in (folder / "audio").iterdir()} == stamps

    # deterministic: a fresh render of the same seed is the same, clip for clip and byte for byte
    fresh = add_rendered_clips(plan, tmp_path / "fresh", seed=0, text_cache=text_cache)
    assert fresh.partition.render["rendered_now"] == render["attempted"]

    def same(part):
        return [(x.id, x.text, x.duration, x.prosody, x.phonemes) for x in part.finetune]

    assert same(fresh.partition) == same(again.partition)
    for x in rendered[:3]:
        assert (tmp_path / "fresh" / x.audio).read_bytes() == (folder / x.audio).read_bytes()
    other = render_voice_clips(corpus, plan.voice, tmp_path / "seed1", 0.2, seed=1, text_cache=text_cache)
    assert [x.text for x in other.rows] != [x.text for x in rendered][: len(other.rows)]

    # the text runs out: every unused sentence is rendered once (the cache is extended, not redone), the
    # minutes are short and the verdict can only be incomplete
    big = plan_finetune_eval(corpus, plan.voice, minutes=5, sentences=3, render_minutes=5)
    big = add_rendered_clips(big, folder, seed=0, text_cache=text_cache)
    part = big.partition
    assert part.render["stopped_by"] == "text" and part.limited_by == "text" and part.minutes_short
    assert part.render["from_cache"] == render["attempted"]
    assert part.render["attempted"] + part.render["passed_over"] == part.render["text_pool"]
    assert part.render["attempted"] >= len(FRESH) and part.render["passed_over"] >= len(EN) + 1  # re-spelled
    verdict, why = overall_verdict(finetune_checks(0.6, 0.7, 0.3, 0.3, 1), part)
    assert (
        verdict == "incomplete"
        and "rendered for this eval; rendering ended by the text running out" in why[0]
    )


def eval_config_small():
    from evals.finetune_eval import eval_config

    return eval_config(0, steps=4, val_every=2, rank=4, lr=3e-3, batch_positions=1024, threads=1)


def test_render_minutes_needs_the_text_cache_and_a_renderable_voice(espeak_corpus, corpus, tmp_path, capsys):
    c, _ = espeak_corpus
    argv = [
        "eval",
        "finetune",
        "--corpus",
        str(c),
        "--out",
        str(tmp_path / "r"),
        "--work",
        str(tmp_path / "w"),
    ]
    argv += ["--render-minutes", "1", "--text-cache", str(tmp_path / "no-texts"), "--sentences", "3"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()  # the voice line, then the error: one line
    assert len(err) == 2 and err[0].startswith("voice espeak-en-") and err[1].startswith("flowtts: error: ")
    assert "flowtts data texts --langs en" in err[1] and "no-texts" in err[1]
    # a corpus of recordings (no voices.json): auto falls back to the old rule, rendering says why not
    base = [
        "eval",
        "finetune",
        "--corpus",
        str(corpus),
        "--out",
        str(tmp_path / "r"),
        "--render-minutes",
        "1",
    ]
    assert main([*base, "--work", str(tmp_path / "w2"), "--sentences", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("voice v-held (auto: ") and "no English held-out voice can be rendered" in err[0]
    assert len(err) == 2 and "voice v-held is not in" in err[1] and "voices.json" in err[1]
