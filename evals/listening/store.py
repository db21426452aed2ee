"""The answers of a listening test, in SQLite: durable, resumable per listener, one transaction per answer.

    store = ListeningStore(test_dir / "results.sqlite", manifest)     # creates the tables once
    progress = store.join("alice")                                     # new listener or resume
    store.answer_mushra("alice", 0, {"ours": 72, "reference": 100, …})
    ratings = store.mushra_ratings()                                   # -> [MushraRating], for analysis

The database runs in WAL mode with ``synchronous=FULL``: an answer the server acknowledged survives a
crash or power loss, and ``analyze`` can read while ``serve`` writes. Every answer (a whole MUSHRA screen
or one A/B vote) is one ``BEGIN IMMEDIATE`` transaction, so it is stored whole or not at all and two
tabs of the same listener cannot both answer the same screen. A listener's plan (order of items and
stimuli, see plan.py) is stored when the listener joins; coming back resumes at the first unanswered
screen. Answers must come in plan order; re-sending an answer already stored (a retry after a lost
response) is accepted as a no-op, a different one is refused.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from evals.listening.manifest import Manifest
from evals.listening.plan import ListenerPlan, Screen, make_plan
from evals.listening.records import MushraRating, PairVote
from flowtts.errors import FlowTTSError

SCHEMA_VERSION = 1
LISTENER_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SCORE_EPSILON = 1e-9

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listeners (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    plan TEXT NOT NULL,
    screens INTEGER NOT NULL,
    training_done_at TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    listener TEXT NOT NULL REFERENCES listeners(id),
    started_at TEXT NOT NULL,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS screens (
    listener TEXT NOT NULL REFERENCES listeners(id),
    screen INTEGER NOT NULL,
    item TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (listener, screen)
);
CREATE TABLE IF NOT EXISTS mushra_ratings (
    listener TEXT NOT NULL,
    screen INTEGER NOT NULL,
    item TEXT NOT NULL,
    condition TEXT NOT NULL,
    language TEXT,
    score REAL NOT NULL CHECK (score >= 0 AND score <= 100),
    PRIMARY KEY (listener, item, condition),
    FOREIGN KEY (listener, screen) REFERENCES screens (listener, screen)
);
CREATE TABLE IF NOT EXISTS pair_votes (
    listener TEXT NOT NULL,
    screen INTEGER NOT NULL,
    item TEXT NOT NULL,
    system_a TEXT NOT NULL,
    system_b TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie')),
    language TEXT,
    PRIMARY KEY (listener, screen),
    FOREIGN KEY (listener, screen) REFERENCES screens (listener, screen)
);
"""


class StoreError(FlowTTSError):
    """An answer or request the store refuses; ``status`` is the HTTP status the server answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Progress:
    """Where a listener stands: ``next_screen`` is the first unanswered screen (``None`` when finished)."""

    listener: str
    training_needed: bool
    training_done: bool
    answered: int
    total: int

    @property
    def next_screen(self) -> int | None:
        return self.answered if self.answered < self.total else None

    @property
    def finished(self) -> bool:
        return self.answered >= self.total

    def to_dict(self) -> dict:
        return {
            "listener": self.listener,
            "training_needed": self.training_needed,
            "training_done": self.training_done,
            "answered": self.answered,
            "total": self.total,
            "next_screen": self.next_screen,
            "finished": self.finished,
        }


@dataclass(frozen=True)
class ListenerSummary:
    listener: str
    created_at: str
    answered: int
    total: int
    sessions: int
    finished: bool


@dataclass(frozen=True)
class AnswerResult:
    progress: Progress
    duplicate: bool  # the same answer was already stored (a retry); nothing was written


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_listener_id(listener: str) -> str:
    if not isinstance(listener, str) or not LISTENER_RE.match(listener):
        raise StoreError(422, "a listener id is 1–64 letters, digits, '_' or '-'")
    return listener


class ListeningStore:
    """The answers of one built test (``manifest``) in the SQLite file ``path``."""

    def __init__(self, path: str | os.PathLike, manifest: Manifest, create: bool = True):
        self.path = Path(path)
        self.manifest = manifest
        self._languages = {it.id: it.language for it in manifest.items}
        if not create and not self.path.is_file():
            raise FlowTTSError(f"no answers yet: {self.path} does not exist (start `serve` first)")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise FlowTTSError(
                    f"cannot create the results folder {self.path.parent}: {e.strerror}"
                ) from e
        try:
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                self._check_meta(db)
        except sqlite3.DatabaseError as e:
            raise FlowTTSError(f"{self.path}: not a usable results database ({e})") from None

    # --- plumbing ---------------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=15.0, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=15000")
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back if it raises."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _check_meta(self, db: sqlite3.Connection) -> None:
        want = {
            "schema_version": str(SCHEMA_VERSION),
            "build_id": self.manifest.build_id,
            "kind": self.manifest.kind,
            "test": self.manifest.name,
        }
        have = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if not have:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", list(want.items()))
            db.execute("COMMIT")
            have = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if have.get("schema_version") != want["schema_version"]:
            raise FlowTTSError(
                f"{self.path}: results schema {have.get('schema_version')} is not {SCHEMA_VERSION}"
            )
        if have.get("build_id") != want["build_id"]:
            raise FlowTTSError(
                f"{self.path} holds answers to another build of the test ({have.get('test')}, build "
                f"{have.get('build_id')}), not to this one ({self.manifest.build_id}); give another --db"
            )

    def _listener_row(self, db: sqlite3.Connection, listener: str):
        row = db.execute(
            "SELECT plan, screens, training_done_at FROM listeners WHERE id = ?", (listener,)
        ).fetchone()
        if row is None:
            raise StoreError(404, f"unknown listener {listener!r}")
        return row

    def _progress(self, db: sqlite3.Connection, listener: str) -> Progress:
        plan_json, total, training_done_at = self._listener_row(db, listener)
        answered = db.execute("SELECT COUNT(*) FROM screens WHERE listener = ?", (listener,)).fetchone()[0]
        needed = bool(json.loads(plan_json)["training"])
        return Progress(listener, needed, training_done_at is not None, answered, total)

    # --- listeners --------------------------------------------------------------------------------------

    def join(self, listener: str, user_agent: str | None = None) -> Progress:
        """Adds ``listener`` (with their plan) if new, records a session (one visit) and returns where
        they stand."""
        check_listener_id(listener)
        plan = make_plan(self.manifest, listener)
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO listeners (id, created_at, plan, screens) VALUES (?, ?, ?, ?)",
                (listener, now_utc(), json.dumps(plan.to_dict()), len(plan.screens)),
            )
            db.execute(
                "INSERT INTO sessions (listener, started_at, user_agent) VALUES (?, ?, ?)",
                (listener, now_utc(), (user_agent or "")[:300]),
            )
            return self._progress(db, listener)

    def exists(self, listener: str) -> bool:
        if not LISTENER_RE.match(listener or ""):
            return False
        with self._connect() as db:
            return db.execute("SELECT 1 FROM listeners WHERE id = ?", (listener,)).fetchone() is not None

    def progress(self, listener: str) -> Progress:
        check_listener_id(listener)
        with self._connect() as db:
            return self._progress(db, listener)

    def plan(self, listener: str) -> ListenerPlan:
        """The plan the listener was given when they joined."""
        check_listener_id(listener)
        with self._connect() as db:
            plan_json, _, _ = self._listener_row(db, listener)
        return ListenerPlan.from_dict(json.loads(plan_json))

    def finish_training(self, listener: str) -> Progress:
        check_listener_id(listener)
        with self._transaction() as db:
            self._listener_row(db, listener)
            db.execute(
                "UPDATE listeners SET training_done_at = COALESCE(training_done_at, ?) WHERE id = ?",
                (now_utc(), listener),
            )
            return self._progress(db, listener)

    def listeners(self) -> list[ListenerSummary]:
        with self._connect() as db:
            rows = db.execute(
                """SELECT l.id, l.created_at, l.screens,
                          (SELECT COUNT(*) FROM screens s WHERE s.listener = l.id),
                          (SELECT COUNT(*) FROM sessions v WHERE v.listener = l.id)
                   FROM listeners l ORDER BY l.created_at, l.id"""
            ).fetchall()
        return [ListenerSummary(r[0], r[1], r[3], r[2], r[4], r[3] >= r[2]) for r in rows]

    # --- answers ----------------------------------------------------------------------------------------

    def _open_screen(
        self, db: sqlite3.Connection, listener: str, index: int
    ) -> tuple[Screen, Progress, bool]:
        """The plan's screen ``index`` if the listener may answer it now; the bool says it is already
        answered (the caller compares the answers)."""
        progress = self._progress(db, listener)
        if progress.training_needed and not progress.training_done:
            raise StoreError(409, "finish the training page first")
        if not isinstance(index, int) or not 0 <= index < progress.total:
            raise StoreError(404, f"no screen {index} (this listener has screens 0..{progress.total - 1})")
        if index > progress.answered:
            raise StoreError(409, f"screen {index} is not next: answer screen {progress.answered} first")
        plan_json = self._listener_row(db, listener)[0]
        screen = ListenerPlan.from_dict(json.loads(plan_json)).screens[index]
        return screen, progress, index < progress.answered

    def open_screen(self, listener: str, index: int) -> Screen:
        """The listener's screen ``index`` if it may be answered now (the answer methods check again,
        inside their transaction).

        Raises:
            StoreError: unknown listener or screen (404), training not done or screen not next (409).
        """
        check_listener_id(listener)
        with self._connect() as db:
            return self._open_screen(db, listener, index)[0]

    def _mark_answered(
        self, db: sqlite3.Connection, listener: str, screen: Screen, progress: Progress
    ) -> None:
        stamp = now_utc()
        db.execute(
            "INSERT INTO screens (listener, screen, item, answered_at) VALUES (?, ?, ?, ?)",
            (listener, screen.index, screen.item, stamp),
        )
        if progress.answered + 1 >= progress.total:
            db.execute("UPDATE listeners SET finished_at = ? WHERE id = ?", (stamp, listener))

    def answer_mushra(self, listener: str, index: int, scores: dict[str, float]) -> AnswerResult:
        """Stores one MUSHRA screen: ``scores`` maps every condition of the screen to 0–100, and (BS.1534)
        at least one is 100.

        Raises:
            StoreError: unknown listener (404) or screen (404), out of order or changed answer (409), a
                missing or unknown condition, a score outside 0–100 or none at 100 (422).
        """
        check_listener_id(listener)
        if self.manifest.kind != "mushra":
            raise StoreError(409, "this is a win-rate test: send a choice")
        with self._transaction() as db:
            screen, progress, answered = self._open_screen(db, listener, index)
            _check_scores(scores, screen)
            if answered:
                stored = dict(
                    db.execute(
                        "SELECT condition, score FROM mushra_ratings WHERE listener = ? AND screen = ?",
                        (listener, index),
                    ).fetchall()
                )
                same = stored.keys() == scores.keys() and all(
                    abs(stored[c] - float(scores[c])) < SCORE_EPSILON for c in stored
                )
                if not same:
                    raise StoreError(409, f"screen {index} is already answered with other scores")
                return AnswerResult(progress, duplicate=True)
            self._mark_answered(db, listener, screen, progress)
            language = self._languages.get(screen.item)
            db.executemany(
                "INSERT INTO mushra_ratings (listener, screen, item, condition, language, score) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(listener, index, screen.item, c, language, float(scores[c])) for c in screen.conditions],
            )
            return AnswerResult(self._progress(db, listener), duplicate=False)

    def answer_pair(self, listener: str, index: int, choice: str) -> AnswerResult:
        """Stores one A/B vote: ``choice`` is a, b or (when the test allows it) tie.

        Raises:
            StoreError: as ``answer_mushra``; a tie where ties are not offered (422).
        """
        check_listener_id(listener)
        if self.manifest.kind != "winrate":
            raise StoreError(409, "this is a MUSHRA test: send ratings")
        allowed = ("a", "b", "tie") if self.manifest.tie else ("a", "b")
        if choice not in allowed:
            raise StoreError(422, f"choice must be one of {', '.join(allowed)}, got {choice!r}")
        with self._transaction() as db:
            screen, progress, answered = self._open_screen(db, listener, index)
            if answered:
                stored = db.execute(
                    "SELECT choice FROM pair_votes WHERE listener = ? AND screen = ?", (listener, index)
                ).fetchone()
                if stored is None or stored[0] != choice:
                    raise StoreError(409, f"screen {index} is already answered with another choice")
                return AnswerResult(progress, duplicate=True)
            self._mark_answered(db, listener, screen, progress)
            a, b = screen.conditions
            db.execute(
                "INSERT INTO pair_votes (listener, screen, item, system_a, system_b, choice, language) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (listener, index, screen.item, a, b, choice, self._languages.get(screen.item)),
            )
            return AnswerResult(self._progress(db, listener), duplicate=False)

    # --- readers for the analysis -----------------------------------------------------------------------

    def _complete_listeners(self, db: sqlite3.Connection) -> set[str]:
        rows = db.execute(
            "SELECT l.id FROM listeners l WHERE "
            "(SELECT COUNT(*) FROM screens s WHERE s.listener = l.id) >= l.screens"
        ).fetchall()
        return {r[0] for r in rows}

    def mushra_ratings(self, complete_only: bool = False) -> list[MushraRating]:
        """Every stored slider value (in answer order); ``complete_only`` keeps listeners who finished."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT r.listener, r.item, r.condition, r.score, r.language FROM mushra_ratings r "
                "JOIN screens s ON s.listener = r.listener AND s.screen = r.screen "
                "ORDER BY s.answered_at, r.listener, r.screen, r.condition"
            ).fetchall()
            keep = self._complete_listeners(db) if complete_only else None
        return [MushraRating(*r) for r in rows if keep is None or r[0] in keep]

    def pair_votes(self, complete_only: bool = False) -> list[PairVote]:
        """Every stored A/B vote (in answer order); ``complete_only`` keeps listeners who finished."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT v.listener, v.item, v.system_a, v.system_b, v.choice, v.language FROM pair_votes v "
                "JOIN screens s ON s.listener = v.listener AND s.screen = v.screen "
                "ORDER BY s.answered_at, v.listener, v.screen"
            ).fetchall()
            keep = self._complete_listeners(db) if complete_only else None
        return [PairVote(*r) for r in rows if keep is None or r[0] in keep]


def _check_scores(scores: dict[str, float], screen: Screen) -> None:
    if not isinstance(scores, dict):
        raise StoreError(422, "ratings must map every stimulus to a score")
    unknown = sorted(set(scores) - set(screen.conditions))
    missing = sorted(set(screen.conditions) - set(scores))
    if unknown:
        raise StoreError(422, f"unknown stimulus {unknown[0]!r} on this screen")
    if missing:
        raise StoreError(422, f"{len(missing)} stimulus(es) of this screen have no score")
    for v in scores.values():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
            raise StoreError(422, f"a score must be a number from 0 to 100, got {v!r}")
    if max(scores.values()) < 100:
        raise StoreError(422, "rate at least one stimulus 100 (the hidden reference is among them)")
