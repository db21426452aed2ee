"""The MBROLA engine: .pho handling and the diphone repair (pure), the table codec, and real renders
(skipped where mbrola or the voice is not installed; es1 needs the full voice set)."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flowtts.data.engines.base import Prosody
from flowtts.data.engines.mbrola import (
    MbrolaEngine,
    PhoLine,
    audit_voices,
    insert_pauses,
    mbrola_voices,
    parse_pho,
    pho_text,
    phone_spans,
    shift_pitch,
    unknown_diphones,
)
from flowtts.data.engines.mbrola_tables import (
    FIXES,
    OVERRIDES_DIR,
    Rule,
    database_path,
    decompile,
    private_data,
    read_overrides,
)

PHO = """; a comment
h\t70
@\t20\t 0 179 50 182 100 191

l\t65
r-\t40
t\t82
_\t301
_\t1
"""
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def _have(db: str) -> bool:
    return (
        shutil.which("mbrola") is not None
        and shutil.which("espeak-ng") is not None
        and database_path(db).is_file()
    )


def _voice(voice_id: str):
    return next(v for v in mbrola_voices() if v.id == voice_id)


def test_parse_pho_reads_phones_durations_and_pitch():
    lines = parse_pho(PHO)
    assert [p.phone for p in lines] == ["h", "@", "l", "r-", "t", "_", "_"]
    assert lines[0] == PhoLine("h", 70.0)
    assert lines[1].pitch == ((0.0, 179.0), (50.0, 182.0), (100.0, 191.0))
    assert parse_pho(pho_text(lines)) == lines  # round trip
    with pytest.raises(ValueError, match="Invalid phoneme code"):
        parse_pho("a\t50\nInvalid phoneme code 117\n")
    with pytest.raises(ValueError):
        parse_pho("a\t50\t0\n")  # a pitch position without its frequency


def test_phone_spans_are_contiguous_and_merge_pauses():
    spans = phone_spans(parse_pho(PHO))
    assert [s.phone for s in spans] == ["h", "@", "l", "r-", "t", "_"]
    assert spans[-1].duration == pytest.approx(0.302)
    for a, b in zip(spans, spans[1:], strict=False):
        assert b.start == pytest.approx(a.start + a.duration)
    assert spans[-1].start + spans[-1].duration == pytest.approx(0.579)


def test_unknown_diphones_are_read_from_mbrola_warnings():
    err = (
        "Warning: _-e/ unknown, replaced with _-_\nWarning: r--t unknown, replaced with _-_\n"
        "Warning: something else\n"
    )
    assert unknown_diphones(err) == ["_-e/", "r--t"]


def test_insert_pauses_splits_only_the_unknown_pairs():
    lines = parse_pho(PHO)
    fixed = insert_pauses(lines, {"h-@", "r--t", "t-_", "x-y"})
    assert [p.phone for p in fixed] == ["h", "_", "@", "l", "r-", "_", "t", "_", "_"]
    assert fixed[1] == PhoLine("_", 10)
    assert insert_pauses(lines, set()) == lines


def test_shift_pitch_semitones_and_range():
    lines = [PhoLine("a", 100, ((0, 100.0), (100, 200.0))), PhoLine("b", 50)]
    up = shift_pitch(lines, 12.0, 1.0)
    assert [f for _, f in up[0].pitch] == pytest.approx([200.0, 400.0])
    flat = shift_pitch(lines, 0.0, 0.0)
    assert [f for _, f in flat[0].pitch] == pytest.approx([math.sqrt(2) * 100] * 2)
    wide = shift_pitch(lines, 0.0, 2.0)
    assert wide[0].pitch[1][1] / wide[0].pitch[0][1] == pytest.approx(4.0)
    assert shift_pitch(lines, 0.0, 1.0) == lines
    assert shift_pitch(lines, 48.0, 1.0)[0].pitch[1][1] == 600.0  # clamped


def test_rule_lines_and_decompile():
    assert Rule.parse("0 R2 NULL 0 rr  // the trill") == Rule(0, "R2", "NULL", 0, "rr")
    assert Rule.parse("// only a comment") is None
    assert Rule(0, "aI", "NULL", 60, "a", "i").to_line() == "0 aI NULL 60 a i"

    def word(s: str) -> int:
        return int.from_bytes(s.encode().ljust(4, b"\0"), "little")

    recs = [(word("R2"), 0, 0, 0, 0, 0), (word("aI"), 2, word("a"), word("i"), 60, 8), (0,) * 6]
    data = struct.pack("<i", 20) + b"".join(struct.pack("<iIiiii", *r) for r in recs)
    table = decompile(data)
    assert table.volume == 20
    assert table.rules == (Rule(0, "R2", "NULL", 0, "NULL"), Rule(8, "aI", "VWL", 60, "a", "i"))
    src = table.source([Rule(0, "R2", "NULL", 0, "rr")]).splitlines()
    assert src == ["volume 20", "0 R2 NULL 0 rr", "0 R2 NULL 0 NULL", "8 aI VWL 60 a i"]


def test_override_files_exist_and_parse():
    for db, (_, name) in FIXES.items():
        rules = read_overrides(name)
        assert rules, (db, name)
        assert all(len(r.to_line()) < 40 for r in rules)  # espeak's compiler reads 39 characters
    assert {p.name for p in OVERRIDES_DIR.glob("*.txt")} == {n for _, n in FIXES.values()}


def test_catalogue_groups_pseudo_speakers_with_their_voice():
    voices = mbrola_voices()
    ids = [v.id for v in voices]
    assert len(ids) == len(set(ids))
    assert "mbrola-nl1" not in ids and "mbrola-de8" not in ids
    by_id = {v.id: v for v in voices}
    base, low, high = by_id["mbrola-us1"], by_id["mbrola-us1-l090"], by_id["mbrola-us1-l110"]
    assert base.kind == "recorded" and low.kind == high.kind == "pseudo"
    assert base.speaker_group == low.speaker_group == high.speaker_group == "mbrola-us1"
    assert base.gender == low.gender == "female" and by_id["mbrola-us2"].gender == "male"
    assert (low.params["voice_rate"], high.params["voice_rate"]) == (14400, 17600)
    assert by_id["mbrola-ca1"].lang == "fr" and by_id["mbrola-in2"].lang == "hi"
    assert by_id["mbrola-es1"].params["espeak_voice"] == "mb-es1fix"
    assert {v.lang for v in voices} == {"en", "fr", "de", "es", "it", "pt", "nl", "ar", "hi"}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_compiler_round_trips_a_shipped_table(tmp_path: Path):
    shipped = next((private_data().root / "espeak-ng-data" / "mbrola_ph").glob("us_phtrans"), None)
    if shipped is None:
        pytest.skip("no us_phtrans")
    (tmp_path / "espeak-ng-data" / "mbrola_ph").mkdir(parents=True)
    src = tmp_path / "rt"
    src.write_text(decompile(shipped.read_bytes()).source(), encoding="latin-1")
    subprocess.run(
        ["espeak-ng", f"--path={tmp_path}", f"--compile-mbrola={src}"], check=True, capture_output=True
    )
    assert (tmp_path / "espeak-ng-data" / "mbrola_ph" / "rt_phtrans").read_bytes() == shipped.read_bytes()


@pytest.mark.skipif(not _have("us1"), reason="mbrola-us1 not installed")
def test_stand_in_gives_the_same_pho_as_real_mbrola():
    data = private_data()
    ours = subprocess.run(
        ["espeak-ng", f"--path={data.root}", "-q", "-v", "mb/mb-us1", "--pho", SENTENCE],
        capture_output=True,
        env=data.env,
        check=True,
        timeout=30,
    ).stdout
    system = subprocess.run(
        ["espeak-ng", "-q", "-v", "mb-us1", "--pho", SENTENCE], capture_output=True, check=True, timeout=30
    ).stdout
    assert ours == system and len(parse_pho(ours.decode())) > 20


@pytest.mark.skipif(not _have("us1"), reason="mbrola-us1 not installed")
def test_render_us1_matches_its_pho():
    engine = MbrolaEngine()
    voice = _voice("mbrola-us1")
    assert engine.available(voice)
    res = engine.render(SENTENCE, voice, Prosody())
    assert res.problems == [] and res.sample_rate == 16000
    duration = len(res.samples) / res.sample_rate
    pho_total = res.phones[-1].start + res.phones[-1].duration
    assert abs(duration - pho_total) < 0.02  # within a 20 ms frame
    assert {"k", "b", "r"} <= {p.phone for p in res.phones}
    assert res.samples.dtype == np.float32 and 0.05 < np.abs(res.samples).max() <= 1.0
    assert float(np.sqrt(np.mean(res.samples**2))) > 0.01

    shifted = engine.render(SENTENCE, _voice("mbrola-us1-l110"), Prosody())
    assert shifted.problems == [] and shifted.sample_rate == 17600
    assert abs(len(shifted.samples) / shifted.sample_rate - duration) < 0.02
    assert [p.phone for p in shifted.phones] == [p.phone for p in res.phones]

    fast = engine.render(SENTENCE, voice, Prosody(rate=1.25, pitch=2.0, pitch_range=0.8, word_gap=1))
    assert fast.problems == [] and len(fast.samples) < len(res.samples)


@pytest.mark.skipif(not _have("us1"), reason="mbrola-us1 not installed")
def test_audit_counts_sentences_per_voice():
    (row,) = audit_voices({"en": [SENTENCE, "Hello world."], "fr": ["Bonjour."]}, [_voice("mbrola-us1")])
    assert (row.voice, row.sentences, row.with_missing, row.failed) == ("mbrola-us1", 2, 0, 0)
    assert 0 < row.silence_ratio < 0.5 and 0.02 < row.seconds_per_char < 0.2 and row.realtime > 1


@pytest.mark.skipif(not _have("us1"), reason="mbrola-us1 not installed")
def test_nothing_to_say_is_a_problem_not_a_crash():
    res = MbrolaEngine().render(" ... ", _voice("mbrola-us1"), Prosody())
    assert res.problems and len(res.samples) == 0


@pytest.mark.voices
@pytest.mark.skipif(not _have("es1"), reason="mbrola-es1 not installed")
def test_fixed_spanish_table_keeps_the_trill():
    voice = _voice("mbrola-es1")
    text = "El perro de Roberto corre rápido por la carretera."
    fixed = MbrolaEngine().render(text, voice, Prosody())
    assert fixed.problems == []
    assert sum(p.phone == "rr" for p in fixed.phones) == 5
    shipped = MbrolaEngine(fix_tables=False, repair=False).render(text, voice, Prosody())
    assert not any(p.phone == "rr" for p in shipped.phones)
    assert any("missing diphones" in p for p in shipped.problems)  # e/ and o/ were unmapped
