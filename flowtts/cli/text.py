"""``flowtts text``: the text frontend from the command line (normalize, split, train the tokenizer)."""

from __future__ import annotations

import argparse
import sys

from flowtts.constants import LANGUAGES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "text",
        help="text frontend: normalize text, split sentences, train the tokenizer",
        description="The text frontend: normalization, sentence splitting and the sentencepiece tokenizer.",
    )
    tsub = p.add_subparsers(dest="text_command", metavar="TEXT_COMMAND")
    tsub.required = True
    _add_normalize(tsub)
    _add_split(tsub)
    _add_train_tokenizer(tsub)


def _add_normalize(tsub: argparse._SubParsersAction) -> None:
    n = tsub.add_parser(
        "normalize",
        help="print text as it will be spoken (numbers, dates, ... in words)",
        description="Normalize text for speech. Reads standard input when no text is given.",
    )
    n.add_argument(
        "text",
        nargs="*",
        help="the text (several arguments are joined by spaces); omit to read standard input line by line",
    )
    n.add_argument("--lang", default="en", choices=LANGUAGES, help="language of the text (default: en)")
    n.set_defaults(func=run_normalize)


def _add_split(tsub: argparse._SubParsersAction) -> None:
    s = tsub.add_parser(
        "split",
        help="print the sentences (or clauses) of a text, one per line",
        description="Split text into sentences as the streaming server does. Reads standard "
        "input when no text is given.",
    )
    s.add_argument("text", nargs="*", help="the text; omit to read standard input")
    s.add_argument("--lang", default="en", choices=LANGUAGES, help="language of the text (default: en)")
    s.add_argument("--clauses", action="store_true", help="also cut at , ; : once a unit is long enough")
    s.add_argument(
        "--min-clause-chars",
        type=int,
        default=30,
        metavar="N",
        help="shortest unit a clause cut may produce (default: 30)",
    )
    s.set_defaults(func=run_split)


def _add_train_tokenizer(tsub: argparse._SubParsersAction) -> None:
    t = tsub.add_parser(
        "train-tokenizer",
        help="train the sentencepiece tokenizer on corpus text",
        description="Train the one sentencepiece model for all languages (byte fallback, language tags, "
        "audio specials) on the normalized text of a corpus and/or plain text files.",
    )
    t.add_argument(
        "--corpus",
        action="extend",
        nargs="+",
        default=[],
        metavar="DIR",
        help="corpus folder whose manifests/*.jsonl rows give (lang, normalized_text); repeatable",
    )
    t.add_argument(
        "--text-file",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE:LANG",
        help="plain text file, one sentence per line, in language LANG; normalized before "
        "training; repeatable",
    )
    t.add_argument(
        "--split",
        action="append",
        default=None,
        choices=("train", "valid", "test"),
        help="corpus splits to read (repeatable; default: train only, so held-out text stays unseen)",
    )
    t.add_argument("--out", required=True, metavar="FILE", help="where to write tokenizer.model (atomically)")
    t.add_argument(
        "--vocab-size",
        type=int,
        default=4096,
        metavar="N",
        help="number of pieces, specials and 256 byte pieces included (default: 4096)",
    )
    t.add_argument(
        "--model-type",
        default="unigram",
        choices=("unigram", "bpe"),
        help="sentencepiece model type (default: unigram)",
    )
    t.set_defaults(func=run_train_tokenizer)


def _input_text(args: argparse.Namespace) -> list[str]:
    """The positional text as one item, or standard input line by line."""
    if args.text:
        return [" ".join(args.text)]
    return [line.rstrip("\n") for line in sys.stdin]


def run_normalize(args: argparse.Namespace) -> int:
    from flowtts.text import normalize

    for line in _input_text(args):
        print(normalize(line, args.lang))
    return 0


def run_split(args: argparse.Namespace) -> int:
    from flowtts.text import split_sentences

    text = "\n".join(_input_text(args))
    for unit in split_sentences(
        text, args.lang, clauses=args.clauses, min_clause_chars=args.min_clause_chars
    ):
        print(unit)
    return 0


def run_train_tokenizer(args: argparse.Namespace) -> int:
    from flowtts.errors import FlowTTSError
    from flowtts.text.tokenizer import Tokenizer, TokenizerConfig
    from flowtts.text.training_text import corpus_sentences, parse_text_file_arg, text_file_sentences

    if not args.corpus and not args.text_file:
        raise FlowTTSError("give at least one --corpus DIR or --text-file FILE:LANG")
    if args.vocab_size < 300:
        raise FlowTTSError(f"--vocab-size {args.vocab_size} is too small (specials and bytes take 281)")
    files = [parse_text_file_arg(spec) for spec in args.text_file]
    splits = tuple(args.split or ("train",))
    counts: dict[str, int] = {}

    def sentences():
        for corpus in args.corpus:
            yield from corpus_sentences(corpus, splits, counts)
        for path, lang in files:
            yield from text_file_sentences(path, lang, counts)

    config = TokenizerConfig(vocab_size=args.vocab_size, model_type=args.model_type)
    tokenizer = Tokenizer.train(sentences(), args.out, config)
    per_lang = ", ".join(f"{lang} {n}" for lang, n in sorted(counts.items()))
    print(
        f"wrote {args.out}: {tokenizer.vocab_size} pieces from {sum(counts.values())} sentences ({per_lang})"
    )
    return 0
