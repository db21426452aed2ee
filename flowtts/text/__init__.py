"""The text frontend: normalization, sentence splitting and the tokenizer.

``normalize(text, lang)`` turns raw text into the words a person would say (numbers, dates, money,
units, URLs, abbreviations, acronyms), ``split_sentences``/``IncrementalSplitter`` cut text (whole or
arriving in pieces) into sentences or clauses, and ``Tokenizer`` maps normalized text to ids with a
language tag in front. Importing this package is cheap: num2words and sentencepiece load on first use.
"""

from __future__ import annotations

from flowtts.constants import LANGUAGES
from flowtts.text.normalize import normalize
from flowtts.text.splitter import IncrementalSplitter, SplitterConfig, split_sentences
from flowtts.text.tokenizer import SpecialIds, Tokenizer, TokenizerConfig, lang_tag, train_tokenizer

SUPPORTED_LANGUAGES: tuple[str, ...] = LANGUAGES

__all__ = [
    "SUPPORTED_LANGUAGES",
    "IncrementalSplitter",
    "SpecialIds",
    "SplitterConfig",
    "Tokenizer",
    "TokenizerConfig",
    "lang_tag",
    "normalize",
    "split_sentences",
    "train_tokenizer",
]
