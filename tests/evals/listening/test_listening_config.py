"""The test config: what it accepts, and a one-line error naming the key for everything it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.listening.config import FolderSource, Pair, SynthesisSource, load_config
from flowtts.errors import FlowTTSError

GOOD_MUSHRA = """
kind = "mushra"
name = "v1"
training_items = 2
loudness_lufs = -26

[[items]]
id = "en-1"
text = "Hello there."
language = "en"
reference = "refs/en-1.wav"

[[items]]
id = "fr-1"
text = "Bonjour."
language = "fr"
reference = "/abs/fr-1.wav"

[[conditions]]
name = "baseline"
folder = "systems/baseline"

[[conditions]]
name = "ours"
model = "../model"
voice = { en = "en-f1", fr = "fr-m1" }
steps = 4
cfg = 1.5
seed = 7
"""

GOOD_WINRATE = """
kind = "winrate"

[[items]]
id = "a"
text = "One."

[[items]]
id = "b"
text = "Two."

[[conditions]]
name = "x"
folder = "x"

[[conditions]]
name = "y"
folder = "y"

[[conditions]]
name = "z"
folder = "z"
"""


def _write(tmp_path: Path, text: str, name: str = "test.toml") -> Path:
    p = tmp_path / "cfg" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_mushra_config_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    c = load_config(_write(tmp_path, GOOD_MUSHRA), "mushra")
    base = tmp_path / "cfg"
    assert (c.kind, c.name, c.training_items, c.loudness_lufs, c.sample_rate) == (
        "mushra",
        "v1",
        2,
        -26.0,
        24000,
    )
    assert [i.id for i in c.items] == ["en-1", "fr-1"]
    assert c.items[0].reference == base / "refs/en-1.wav" and c.items[1].reference == Path("/abs/fr-1.wav")
    assert c.conditions[0].source == FolderSource(base / "systems/baseline")
    s = c.conditions[1].source
    assert isinstance(s, SynthesisSource) and s.model == base / "../model"
    assert (s.steps, s.cfg, s.seed) == (4, 1.5, 7)
    assert s.voice_for("fr") == "fr-m1" and s.voice_for("de") is None
    assert c.pairs == () and c.tie is False and c.raw["name"] == "v1"


def test_winrate_defaults_every_pair_and_a_tie(tmp_path: Path) -> None:
    c = load_config(_write(tmp_path, GOOD_WINRATE), "winrate")
    assert c.pairs == (Pair("x", "y"), Pair("x", "z"), Pair("y", "z"))
    assert c.tie is True and c.training_items == 0 and c.name == "test"
    assert c.items[0].reference is None and c.items[0].language is None
    c2 = load_config(_write(tmp_path, _top(GOOD_WINRATE, 'pairs = [["z", "x"]]')))
    assert c2.pairs == (Pair("z", "x"),)


def test_the_command_gives_the_kind_when_the_file_does_not(tmp_path: Path) -> None:
    c = load_config(_write(tmp_path, GOOD_WINRATE.replace('kind = "winrate"', "")), "winrate")
    assert c.kind == "winrate"
    with pytest.raises(FlowTTSError, match="kind: is required"):
        load_config(_write(tmp_path, GOOD_WINRATE.replace('kind = "winrate"', "")))


def _top(text: str, line: str) -> str:
    """``line`` added at the top level (before the first table)."""
    return line + "\n" + text


BAD = [
    # (base, edit, message fragment)
    (GOOD_MUSHRA, lambda t: _top(t, "colour = 1"), "unknown key 'colour'"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace('text = "Hello there."', 'txt = "Hello there."'),
        "items[0]: unknown key 'txt'",
    ),
    (GOOD_MUSHRA, lambda t: t.replace("steps = 4", "step = 4"), "conditions[1]: unknown key 'step'"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace('folder = "systems/baseline"', 'folder = "x"\nvoice = "a"'),
        "unknown key 'voice'",
    ),
    (GOOD_MUSHRA, lambda t: t.replace('reference = "refs/en-1.wav"', ""), "items[0].reference: is required"),
    (GOOD_MUSHRA, lambda t: t.replace('name = "baseline"', 'name = "anchor35"'), "reserved"),
    (GOOD_MUSHRA, lambda t: t.replace('id = "fr-1"', 'id = "en-1"'), "duplicate item id"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace('id = "fr-1"', 'id = "fr 1"'),
        "items[1].id: 'fr 1' is not a valid name",
    ),
    (GOOD_MUSHRA, lambda t: t.replace('name = "ours"', 'name = "baseline"'), "duplicate condition name"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace('model = "../model"', 'model = "../model"\nfolder = "f"'),
        "either 'folder'",
    ),
    (GOOD_MUSHRA, lambda t: t.replace('model = "../model"', ""), "either 'folder'"),
    (GOOD_MUSHRA, lambda t: t.replace("steps = 4", 'voice_clip = "c.wav"'), "'voice' or 'voice_clip'"),
    (GOOD_MUSHRA, lambda t: t.replace("steps = 4", "steps = 0"), "steps: must be in 1..64"),
    (GOOD_MUSHRA, lambda t: t.replace("cfg = 1.5", 'cfg = "high"'), "cfg: expected a finite number"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace("training_items = 2", "training_items = 3"),
        "training_items: must be in 0..2",
    ),
    (GOOD_MUSHRA, lambda t: _top(t, "sample_rate = 12345"), "sample_rate: must be one of"),
    (GOOD_MUSHRA, lambda t: _top(t, 'sample_rate = "24000"'), "sample_rate: expected a whole number"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace("loudness_lufs = -26", "loudness_lufs = 0"),
        "loudness_lufs: must be in",
    ),
    (GOOD_MUSHRA, lambda t: _top(t, "tie = true"), "tie: applies to winrate tests only"),
    (GOOD_MUSHRA, lambda t: t.replace('language = "fr"', ""), "items[1].language: is required when"),
    (GOOD_MUSHRA, lambda t: t.replace('language = "fr"', 'language = "French"'), "not a language code"),
    (
        GOOD_MUSHRA,
        lambda t: t.replace('voice = { en = "en-f1", fr = "fr-m1" }', "voice = 3"),
        "voice: expected",
    ),
    (GOOD_MUSHRA, lambda t: t.replace('kind = "mushra"', 'kind = "abx"'), "kind: must be one of"),
    (GOOD_MUSHRA, lambda t: t.replace('kind = "mushra"', 'kind = "winrate"'), "not a mushra test"),
    (GOOD_MUSHRA, lambda t: t.split("[[items]]")[0], "no [[items]]"),
    (GOOD_MUSHRA, lambda t: t + "\n[[items]\n", "not valid TOML"),
    (GOOD_WINRATE, lambda t: _top(t, 'pairs = [["x", "w"]]'), "unknown condition 'w'"),
    (GOOD_WINRATE, lambda t: _top(t, 'pairs = [["x", "x"]]'), "compared with itself"),
    (GOOD_WINRATE, lambda t: _top(t, 'pairs = [["x", "y"], ["y", "x"]]'), "listed twice"),
    (GOOD_WINRATE, lambda t: _top(t, 'pairs = ["x"]'), "pairs[0]: expected two condition names"),
    (GOOD_WINRATE, lambda t: _top(t, 'tie = "yes"'), "tie: expected true or false"),
    (
        GOOD_WINRATE,
        lambda t: t.split("[[conditions]]")[0] + '[[conditions]]\nname = "x"\nfolder = "x"\n',
        "at least two",
    ),
]


@pytest.mark.parametrize("base, edit, message", BAD, ids=[b[2] for b in BAD])
def test_bad_configs_fail_with_one_line_naming_the_key(tmp_path: Path, base, edit, message) -> None:
    path = _write(tmp_path, edit(base))
    kind = "winrate" if base is GOOD_WINRATE else "mushra"
    if "not a mushra test" in message:
        kind = "mushra"
    with pytest.raises(FlowTTSError) as info:
        load_config(path, kind)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text, text


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FlowTTSError, match="cannot read the test config"):
        load_config(tmp_path / "nope.toml", "mushra")
