"""The sentencepiece tokenizer: training, id layout, language tags, byte fallback, files and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtts.cli import main
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError
from flowtts.text import SUPPORTED_LANGUAGES, Tokenizer, TokenizerConfig, lang_tag, normalize

RAW = {
    "en": [
        "The quick brown fox jumps over the lazy dog.",
        "Dr. Smith paid $3.50 on March 3, 2021.",
        "She sells sea shells by the sea shore.",
    ],
    "fr": ["Le renard brun saute par-dessus le chien paresseux.", "Il est 14h30 le 14/03/2021."],
    "de": ["Der schnelle braune Fuchs springt über den faulen Hund.", "Am 3. Mai um 14:30 Uhr."],
    "es": ["El rápido zorro marrón salta sobre el perro perezoso.", "¿Qué hora es? Son las 14:30."],
    "it": ["La volpe veloce salta sopra il cane pigro.", "Alle 14:30 del 14/03/2021."],
    "pt": ["A rápida raposa marrom pula sobre o cão preguiçoso.", "Às 14h30 do dia 14/03/2021."],
    "nl": ["De snelle bruine vos springt over de luie hond.", "Om 14.30 uur op 14-03-2021."],
    "ar": ["الثعلب البني السريع يقفز فوق الكلب الكسول.", "لدي ١٢٣ كتابا و 3.5 قلم."],
    "hi": ["तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।", "मेरे पास १२३ किताबें हैं।"],
}
PAIRS = [(lang, normalize(t, lang)) for lang, texts in RAW.items() for t in texts for _ in range(10)]
SMALL = TokenizerConfig(vocab_size=400)


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    return Tokenizer.train(PAIRS, tmp_path_factory.mktemp("tok") / "tokenizer.model", SMALL)


def test_special_id_layout(tok: Tokenizer) -> None:
    sp = tok.specials
    assert (sp.pad, sp.unk, sp.bos, sp.eos) == (0, 1, 2, 3)
    assert [tok.id_to_piece(sp.langs[x]) for x in SUPPORTED_LANGUAGES] == [
        lang_tag(x) for x in SUPPORTED_LANGUAGES
    ]
    assert list(sp.langs.values()) == list(range(4, 4 + len(SUPPORTED_LANGUAGES)))
    assert [tok.id_to_piece(i) for i in (sp.begin_audio, sp.audio, sp.next, sp.repeat)] == [
        "<begin_audio>",
        "<audio>",
        "<next>",
        "<repeat>",
    ]
    assert tok.id_to_piece(25) == "<0x00>"  # 8 reserved ids, then the 256 byte pieces


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_encode_prepends_the_language_tag_and_round_trips(tok: Tokenizer, lang: str) -> None:
    text = normalize(RAW[lang][-1], lang)
    ids = tok.encode(text, lang)
    assert ids[0] == tok.lang_id(lang)
    assert tok.specials.unk not in ids
    assert tok.decode(ids) == text
    with_ends = tok.encode(text, lang, add_bos=True, add_eos=True)
    assert with_ends == [tok.specials.bos, *ids, tok.specials.eos]


def test_encode_can_normalize(tok: Tokenizer) -> None:
    assert tok.encode("$3.50", "en", normalize=True) == tok.encode("three dollars and fifty cents", "en")


def test_text_cannot_inject_control_ids(tok: Tokenizer) -> None:
    ids = tok.encode("<lang:en> <pad> <begin_audio>", "fr")
    control = {0, 2, 3, *tok.specials.langs.values(), tok.specials.begin_audio}
    assert ids[0] == tok.lang_id("fr") and not control & set(ids[1:])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=30))
def test_byte_fallback_encodes_anything(tok: Tokenizer, word: str) -> None:
    ids = tok.encode(word, "en")
    assert tok.specials.unk not in ids
    assert tok.decode(ids) == word


def test_training_is_deterministic_and_in_memory() -> None:
    a = Tokenizer.train(PAIRS, None, SMALL)
    b = Tokenizer.train(iter(PAIRS), None, SMALL)
    assert a.serialized() == b.serialized()
    assert 300 <= a.vocab_size <= 400


def test_model_file_round_trip(tok: Tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "t.model"
    Tokenizer.train(PAIRS, path, SMALL)
    loaded = Tokenizer.load(path)
    assert loaded.serialized() == path.read_bytes()
    assert loaded.encode("hello world", "en") == tok.encode("hello world", "en")
    assert [p.name for p in tmp_path.iterdir()] == ["t.model"]  # no temporary file left behind


def test_bad_inputs_are_flowtts_errors(tmp_path: Path) -> None:
    with pytest.raises(FlowTTSError, match="empty"):
        Tokenizer.train([("en", "   ")], None, SMALL)
    with pytest.raises(FlowTTSError, match="unsupported language"):
        Tokenizer.train([("xx", "hello")], None, SMALL)
    with pytest.raises(FlowTTSError, match="does not exist"):
        Tokenizer.train(PAIRS, tmp_path / "missing" / "t.model", SMALL)
    with pytest.raises(FlowTTSError, match="cannot read"):
        Tokenizer.load(tmp_path / "nope.model")
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(FlowTTSError):
        Tokenizer.load(tmp_path / "junk.model")


def test_plain_sentencepiece_model_is_rejected(tmp_path: Path) -> None:
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([t for _, t in PAIRS]),
        model_writer=buf,
        vocab_size=200,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    with pytest.raises(FlowTTSError, match="special pieces"):
        Tokenizer.from_bytes(buf.getvalue())


def _corpus(root: Path) -> Path:
    rows = []
    for i, (lang, text) in enumerate(PAIRS):
        rows.append(
            Utterance(
                id=f"u{i}",
                audio=f"audio/u{i}.flac",
                text=text,
                normalized_text=text,
                lang=lang,
                voice="v",
                speaker_group="g",
                split="train" if i % 5 else "test",
                seen_voice=True,
                duration=1.0,
                sample_rate=24000,
            )
        )
    (root / "manifests").mkdir(parents=True)
    write_manifest(root / "manifests" / "shard-000.jsonl", rows)
    return root


def test_cli_train_tokenizer(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = _corpus(tmp_path / "corpus")
    extra = tmp_path / "extra.txt"
    extra.write_text("Il est 14h30.\nBonjour à tous.\n\n", encoding="utf-8")
    out = tmp_path / "tokenizer.model"
    rc = main(
        [
            "text",
            "train-tokenizer",
            "--corpus",
            str(corpus),
            "--text-file",
            f"{extra}:fr",
            "--out",
            str(out),
            "--vocab-size",
            "400",
        ]
    )
    assert rc == 0
    report = capsys.readouterr().out
    assert "fr 18" in report  # 16 train rows of French + 2 normalized lines of the text file
    tok = Tokenizer.load(out)
    assert tok.decode(tok.encode("quatorze heures trente", "fr")) == "quatorze heures trente"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "{tmp}/missing"], "does not exist"),
        (["--corpus", "{tmp}/empty"], "no manifests"),
        (["--text-file", "{tmp}/blank.txt:en"], "empty"),
        (["--text-file", "{tmp}/blank.txt"], "FILE:LANG"),
        (["--text-file", "{tmp}/blank.txt:xx"], "unsupported language"),
        (["--text-file", "{tmp}/nope.txt:en"], "no such file"),
        ([], "at least one"),
    ],
)
def test_cli_train_tokenizer_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    (tmp_path / "empty" / "manifests").mkdir(parents=True)
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    argv = [
        "text",
        "train-tokenizer",
        *[a.format(tmp=tmp_path) for a in args],
        "--out",
        str(tmp_path / "t.model"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "t.model")


def test_cli_unwritable_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a.txt").write_text("hello world\n", encoding="utf-8")
    argv = [
        "text",
        "train-tokenizer",
        "--text-file",
        f"{tmp_path}/a.txt:en",
        "--out",
        str(tmp_path / "no" / "dir" / "t.model"),
        "--vocab-size",
        "300",
    ]
    assert main(argv) == 2
    assert "cannot write" in capsys.readouterr().err
