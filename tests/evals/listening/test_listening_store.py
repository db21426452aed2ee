"""The answers store: per-listener random plans, resume, validation, one transaction per answer, readers."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from evals.listening.build import build_test
from evals.listening.config import load_config
from evals.listening.manifest import Manifest
from evals.listening.plan import make_plan
from evals.listening.records import HIDDEN_REFERENCE, MushraRating, PairVote
from evals.listening.store import ListeningStore, StoreError
from flowtts.errors import FlowTTSError
from tests.evals.listening.listening_fixtures import write_folder_test


@pytest.fixture(scope="module")
def mushra(tmp_path_factory) -> Manifest:
    root = tmp_path_factory.mktemp("mushra")
    return build_test(
        load_config(write_folder_test(root / "src", "mushra", items=4), "mushra"), root / "t"
    ).manifest


@pytest.fixture(scope="module")
def winrate(tmp_path_factory) -> Manifest:
    root = tmp_path_factory.mktemp("winrate")
    config = load_config(
        write_folder_test(root / "src", "winrate", items=3, systems=("x", "y", "z")), "winrate"
    )
    return build_test(config, root / "t").manifest


def _honest(screen_conditions) -> dict[str, float]:
    return {c: 100.0 if c == HIDDEN_REFERENCE else 40.0 + 5 * k for k, c in enumerate(screen_conditions)}


def test_plans_are_random_per_listener_and_reproducible(mushra: Manifest) -> None:
    plans = [make_plan(mushra, f"listener-{k}") for k in range(12)]
    assert make_plan(mushra, "listener-0") == plans[0]
    for p in plans:
        assert sorted(s.item for s in p.screens) == sorted(it.id for it in mushra.items)
        assert all(sorted(s.conditions) == sorted(mushra.conditions) for s in p.screens)
        assert [s.index for s in p.screens] == list(range(len(mushra.items)))
        assert len(p.training) == 1 and sorted(p.training[0].conditions) == sorted(mushra.conditions)
    assert len({tuple(s.item for s in p.screens) for p in plans}) > 6  # item orders differ
    assert len({p.screens[0].conditions for p in plans}) > 6  # stimulus orders differ
    other = replace(mushra, build_id="another build")
    assert make_plan(other, "listener-0") != plans[0]


def test_win_rate_plans_cover_every_item_and_pair_in_both_orders(winrate: Manifest) -> None:
    plans = [make_plan(winrate, f"l{k}") for k in range(10)]
    for p in plans:
        seen = sorted((s.item, tuple(sorted(s.conditions))) for s in p.screens)
        assert seen == sorted((it.id, pair) for it in winrate.items for pair in winrate.pairs)
    shown = [s.conditions for p in plans for s in p.screens]
    assert ("x", "y") in shown and ("y", "x") in shown  # A/B order randomized


def test_resume_at_the_first_unanswered_screen(tmp_path: Path, mushra: Manifest) -> None:
    db = tmp_path / "r.sqlite"
    store = ListeningStore(db, mushra)
    p = store.join("ann", user_agent="test")
    assert (p.answered, p.total, p.next_screen, p.training_needed, p.training_done) == (0, 4, 0, True, False)
    store.finish_training("ann")
    plan = store.plan("ann")
    assert plan == make_plan(mushra, "ann")
    for k in range(2):
        r = store.answer_mushra("ann", k, _honest(plan.screens[k].conditions))
        assert not r.duplicate and r.progress.answered == k + 1

    again = ListeningStore(db, mushra)  # a new process, same file
    p = again.join("ann")
    assert (p.answered, p.next_screen, p.training_done, p.finished) == (2, 2, True, False)
    assert again.plan("ann") == plan
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("SELECT COUNT(*) FROM sessions WHERE listener = 'ann'").fetchone()[0] == 2
    for k in range(2, 4):
        again.answer_mushra("ann", k, _honest(plan.screens[k].conditions))
    p = again.progress("ann")
    assert p.finished and p.next_screen is None
    summary = again.listeners()
    assert [(s.listener, s.answered, s.total, s.sessions, s.finished) for s in summary] == [
        ("ann", 4, 4, 2, True)
    ]


def test_answers_are_validated(tmp_path: Path, mushra: Manifest) -> None:
    store = ListeningStore(tmp_path / "r.sqlite", mushra)
    store.join("bob")
    plan = store.plan("bob")
    good = _honest(plan.screens[0].conditions)

    def refused(status: int, fragment: str, call):
        with pytest.raises(StoreError) as info:
            call()
        assert info.value.status == status and fragment in info.value.message, info.value.message

    refused(409, "training page first", lambda: store.answer_mushra("bob", 0, good))
    store.finish_training("bob")
    refused(404, "unknown listener", lambda: store.answer_mushra("carol", 0, good))
    refused(422, "listener id", lambda: store.join("no spaces please"))
    refused(404, "no screen 9", lambda: store.answer_mushra("bob", 9, good))
    refused(409, "answer screen 0 first", lambda: store.answer_mushra("bob", 1, good))
    refused(422, "no score", lambda: store.answer_mushra("bob", 0, dict(list(good.items())[:-1])))
    refused(422, "unknown stimulus", lambda: store.answer_mushra("bob", 0, {**good, "ghost": 3}))
    refused(422, "from 0 to 100", lambda: store.answer_mushra("bob", 0, {**good, "sys-a": 100.5}))
    refused(422, "from 0 to 100", lambda: store.answer_mushra("bob", 0, {**good, "sys-a": float("nan")}))
    refused(422, "at least one stimulus 100", lambda: store.answer_mushra("bob", 0, {c: 50 for c in good}))
    refused(
        409,
        "win-rate",
        lambda: ListeningStore(tmp_path / "w.sqlite", replace(mushra, kind="winrate")).answer_mushra(
            "bob", 0, good
        ),
    )
    assert store.progress("bob").answered == 0  # nothing refused was stored

    assert not store.answer_mushra("bob", 0, good).duplicate
    assert store.answer_mushra("bob", 0, dict(good)).duplicate  # a retry: accepted, nothing written
    refused(409, "already answered", lambda: store.answer_mushra("bob", 0, {**good, "sys-a": 1}))
    assert len(store.mushra_ratings()) == len(good)


def test_one_transaction_per_answer(tmp_path: Path, mushra: Manifest, monkeypatch) -> None:
    """A failure half-way through storing a screen leaves no trace of it."""
    store = ListeningStore(tmp_path / "r.sqlite", mushra)
    store.join("dan")
    store.finish_training("dan")
    plan = store.plan("dan")

    class Boom(dict):
        def get(self, key, default=None):
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_languages", Boom())
    with pytest.raises(RuntimeError):
        store.answer_mushra("dan", 0, _honest(plan.screens[0].conditions))
    monkeypatch.undo()
    assert store.progress("dan").answered == 0 and store.mushra_ratings() == []
    assert store.answer_mushra("dan", 0, _honest(plan.screens[0].conditions)).progress.answered == 1


def test_readers_return_the_analysis_records(tmp_path: Path, mushra: Manifest, winrate: Manifest) -> None:
    store = ListeningStore(tmp_path / "m.sqlite", mushra)
    for who in ("eve", "fay"):
        store.join(who)
        store.finish_training(who)
    plan = store.plan("eve")
    store.answer_mushra("eve", 0, _honest(plan.screens[0].conditions))
    for k, s in enumerate(store.plan("fay").screens):
        store.answer_mushra("fay", k, _honest(s.conditions))
    ratings = store.mushra_ratings()
    assert all(isinstance(r, MushraRating) for r in ratings) and len(ratings) == 5 * 5
    first = [r for r in ratings if r.listener == "eve"]
    item = mushra.item(plan.screens[0].item)
    assert {(r.item, r.condition, r.score, r.language) for r in first} == {
        (item.id, c, v, item.language) for c, v in _honest(plan.screens[0].conditions).items()
    }
    assert {r.listener for r in store.mushra_ratings(complete_only=True)} == {"fay"}

    wstore = ListeningStore(tmp_path / "w.sqlite", winrate)
    wstore.join("gus")
    wstore.finish_training("gus")
    screens = wstore.plan("gus").screens
    for k, choice in enumerate(["a", "b", "tie"]):
        wstore.answer_pair("gus", k, choice)
    with pytest.raises(StoreError, match="choice must be one of"):
        wstore.answer_pair("gus", 3, "c")
    votes = wstore.pair_votes()
    assert votes == [
        PairVote("gus", s.item, s.conditions[0], s.conditions[1], c, winrate.item(s.item).language)
        for s, c in zip(screens[:3], ["a", "b", "tie"], strict=True)
    ]


def test_a_database_of_another_build_is_refused(tmp_path: Path, mushra: Manifest) -> None:
    ListeningStore(tmp_path / "r.sqlite", mushra).join("hal")
    with pytest.raises(FlowTTSError, match="another build"):
        ListeningStore(tmp_path / "r.sqlite", replace(mushra, build_id="0" * 32))
    with pytest.raises(FlowTTSError, match="no answers yet"):
        ListeningStore(tmp_path / "missing.sqlite", mushra, create=False)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(FlowTTSError, match="not a usable results database"):
        ListeningStore(tmp_path / "junk.sqlite", mushra)
