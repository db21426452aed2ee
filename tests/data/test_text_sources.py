"""Text corpus: filters, readers and the cache API, on hand-written input (no apt, no network)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from flowtts.data import text_extract as tx
from flowtts.data import text_filter as tf
from flowtts.data.text_sources import (
    TEXT_CORPUS_VERSION,
    Sentence,
    build_text_corpus,
    default_cache_dir,
    load_sentences,
    write_sentences,
)
from flowtts.errors import FlowTTSError

EN = tf.Wordlist.from_lines("en", "the cat sat on mat a dog is in garden and it was happy".split())
FR = tf.Wordlist.from_lines("fr", "le chat est sur la table et il dort dans jardin un chien".split())


def test_language_check_needs_wordlist_share_and_beats_english() -> None:
    fr = tf.LanguageCheck("fr", FR, EN)
    assert fr.accepts("Le chat est sur la table.")
    assert not fr.accepts("The cat sat on the mat.")  # English UI string inside a French file
    assert not fr.accepts("Le xyzzy plugh frobnicate quux.")  # below 75 % known
    assert tf.LanguageCheck("en", EN).accepts("The dog is in the garden.")


def test_script_check_for_arabic_and_hindi() -> None:
    assert tf.LanguageCheck("ar").accepts("هذه البيانات مطلوبة لإنشاء كتلة العنوان.")
    assert tf.LanguageCheck("hi").accepts("फ़ाइल की संक्रिया रोकी गयी थी.")
    assert not tf.LanguageCheck("hi").accepts("This is plainly English text here.")


def test_blocklist_matches_whole_words_case_insensitively() -> None:
    bl = tf.Blocklist.from_lines(["# comment", "damn", "fuck*", "son of a gun", "", "चूत"])
    assert bl.hits("Well, DAMN it all.")
    assert not bl.hits("The river was dammed and the damned were saved? no: damnation.")
    assert bl.hits("He was fucking late.")  # prefix entry
    assert bl.hits("You son  of a gun!")  # multi-word entry, any whitespace
    assert not bl.hits("A sonnet of a gunner.")
    assert bl.hits("यह चूत है.") and not bl.hits("यह चूतिया है.")  # vowel signs count as word letters


def test_shape_rules_length_digits_case_punctuation_code() -> None:
    ok = "The cat sat on the mat."
    assert tf.shape_ok(ok, "en")
    assert not tf.shape_ok("Too short.", "en")
    assert not tf.shape_ok("Three words only.", "en")
    assert not tf.shape_ok("A " + "very " * 60 + "long one.", "en")
    assert not tf.shape_ok("the cat sat on the mat.", "en")  # lower-case start
    assert not tf.shape_ok("The cat sat on the mat", "en")  # no final punctuation
    assert not tf.shape_ok("The cat sat on mat 12345 today.", "en")  # five digits
    assert tf.shape_ok("The cat sat on mat 1234 today.", "en")
    for bad in (
        "Run the {command} now please.",
        "See http://example.org for more.",
        "Set x = 5 in the file.",
        f"Press the {tf.CODE_MARK} key to continue.",
        "Q: Why did the chicken cross?",
        "Win32 lacks the equivalent of fork().",
        "Live from New York ...",
        "He slept.He woke up at noon.",
    ):
        assert not tf.shape_ok(bad, "en"), bad
    assert tf.shape_ok("¿Qué hora es ahora mismo?", "es")
    assert tf.shape_ok("यह एक छोटा वाक्य है.", "hi")  # no capital letters in Devanagari


def test_split_normalize_and_quotes() -> None:
    text = tf.normalize("Mr. Smith&nbsp;went  <b>home</b>. He slept.  ¿Y tú? “Yes.”")
    assert tf.split_sentences(text) == ["Mr. Smith went home.", "He slept.", "¿Y tú?", "“Yes.”"]
    assert tf.trim_quotes("“I will set my glory.") == "I will set my glory."
    assert tf.trim_quotes("He said, “Go.") == "He said, “Go."  # cannot be fixed: left to the filter
    assert tf.fix_italian_accents("E' vero, perche' puo' essere cosi'.") == "È vero, perché può essere così."


def test_dedup_is_case_and_whitespace_insensitive() -> None:
    assert tf.dedup(["The cat sat.", "the  CAT sat.", "A dog ran."]) == ["The cat sat.", "A dog ran."]


def test_sentence_filter_end_to_end() -> None:
    f = tf.SentenceFilter("en", tf.LanguageCheck("en", EN), tf.Blocklist.from_lines(["dog"]))
    para = "The cat sat on the mat. The dog is in the garden. It was happy and the cat sat."
    out = list(f.sentences([para]))
    assert out == ["The cat sat on the mat.", "It was happy and the cat sat."]


def _make_mo(messages: dict[str, str]) -> bytes:
    """A little-endian GNU .mo file, laid out as msgfmt does."""
    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    start = 28 + 16 * len(keys)
    otab, ttab, off = [], [], start
    for k in keys:
        otab += [len(k.encode()), off]
        off += len(k.encode()) + 1
    for k in keys:
        ttab += [len(messages[k].encode()), off]
        off += len(messages[k].encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    return header + struct.pack(f"<{len(otab)}I", *otab) + struct.pack(f"<{len(ttab)}I", *ttab) + ids + strs


def test_mo_parser_reads_translations_and_skips_header(tmp_path: Path) -> None:
    data = _make_mo(
        {
            "": "Content-Type: text/plain; charset=UTF-8\n",
            "Open file": "افتح الملف",
            "ctx\x04Save": "احفظ",
            "One item": "عنصر واحد\x00عنصران",
        }
    )
    assert tx.parse_mo(data) == {"Open file": "افتح الملف", "ctx\x04Save": "احفظ", "One item": "عنصر واحد"}
    (tmp_path / "x.mo").write_bytes(data)
    assert "احفظ" in list(tx.mo_paragraphs(tmp_path / "x.mo"))
    with pytest.raises(ValueError):
        tx.parse_mo(b"\0" * 40)


def test_markup_and_fortune_readers(tmp_path: Path) -> None:
    html = (
        '<html><head><title>T</title></head><body><p>Saves the current <span hidden="true" class="MAC">'
        'Mac</span><span hidden="true">document</span>.</p><p>Type <code>ls</code> to list.</p>'
        "<script>var x;</script></body></html>"
    )
    paras = tx.markup_paragraphs(html)
    assert paras[0] == "Saves the current document."
    assert tf.CODE_MARK in paras[1]
    fortunes = "Be kind to cats.\n  -- Anon\n%\nSecond one\nwraps here.\n%\n"
    (tmp_path / "f").write_text(fortunes, encoding="utf-8")
    assert list(tx.fortune_paragraphs(tmp_path / "f")) == ["Be kind to cats.", "Second one wraps here."]


def test_load_sentences_errors_and_roundtrip(tmp_path: Path) -> None:
    with pytest.raises(FlowTTSError, match="unsupported"):
        load_sentences("xx", tmp_path)
    with pytest.raises(FlowTTSError, match="flowtts data texts"):
        load_sentences("fr", tmp_path)
    rows = [
        Sentence("Le chat dort.", "fr", "p:/b", "GPL-2+"),
        Sentence("Un chien dort.", "fr", "p:/a", "MIT"),
    ]
    info = write_sentences("fr", tmp_path, rows, 1.0)
    assert info["count"] == 2 and info["version"] == TEXT_CORPUS_VERSION
    assert [s.source for s in load_sentences("fr", tmp_path)] == ["p:/a", "p:/b"]  # sorted
    assert json.loads((tmp_path / "fr.jsonl").read_text().splitlines()[0])["license"] == "MIT"
    # already built: no apt call is made, the count comes from the sidecar
    assert build_text_corpus(["fr"], tmp_path, progress=False) == {"fr": 2}
    (tmp_path / "fr.jsonl").write_text("{broken\n")
    with pytest.raises(FlowTTSError, match="cannot read"):
        load_sentences("fr", tmp_path)


def test_build_rejects_unknown_language_and_cache_default(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FlowTTSError, match="unsupported text language klingon"):
        build_text_corpus(["en", "klingon"], Path("/nonexistent"), progress=False)
    monkeypatch.setenv("FLOWTTS_CACHE", "/tmp/somewhere")
    assert default_cache_dir() == Path("/tmp/somewhere/text")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get and a Debian mirror")
def test_real_build_of_hindi(tmp_path: Path) -> None:
    counts = build_text_corpus(["hi"], tmp_path, progress=False)
    assert counts["hi"] > 1000
    sents = load_sentences("hi", tmp_path)
    assert all(tf.script_share(s.text, "hi") >= 0.9 for s in sents)
    assert not list(tmp_path.glob(".unpacked-*"))  # scratch tree removed


def test_xhtml_line_break_separates_words() -> None:
    assert tx.markup_paragraphs("<p>line one<br/>line two<br>three</p>") == ["line one line two three"]
