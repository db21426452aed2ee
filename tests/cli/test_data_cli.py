"""`flowtts data …` bad input: one line on stderr, a non-zero exit, no traceback."""

import argparse

import pytest

from flowtts.cli import build_parser, main


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["data", "synth", "--langs", "en,xx", "--hours", "1", "--out", "{tmp}/c"], 2, "unknown language"),
        (["data", "synth", "--langs", "en", "--hours", "0", "--out", "{tmp}/c"], 2, "positive"),
        (["data", "synth", "--langs", "en", "--hours", "1", "--out", "{tmp}/file/c"], 2, "cannot write"),
        # flite speaks English only: French has no installed voice in that engine
        (
            ["data", "synth", "--langs", "fr", "--engines", "flite", "--hours", "1", "--out", "{tmp}/c"],
            3,
            "no installed voice",
        ),
        (["data", "stats", "{tmp}"], 2, "not a corpus folder"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(argv, code, message, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0]


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_flag_of_every_subcommand_has_help():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) >= 10
    for p in parsers:
        for action in p._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{p.prog}: {action.option_strings or action.dest} has no help"
