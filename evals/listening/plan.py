"""What one listener hears, in which order: the training page and the rated screens.

BS.1534 wants the order of items and of the stimuli on each screen randomized per listener, and a
blind A/B test must randomize which system is A. The order comes from a seed derived from the test's
build id and the listener id (sha256), so it is reproducible: the same listener of the same build always
gets the same plan (and the store also keeps the plan it handed out, so a resumed session never depends
on this code being unchanged).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

from evals.listening.manifest import Manifest


@dataclass(frozen=True)
class TrainingItem:
    """An item of the training page and its stimuli in the shown order (heard, not rated)."""

    item: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class Screen:
    """One rated screen. MUSHRA: ``conditions`` in the shown order. Win rate: two systems, the first
    shown as A."""

    index: int
    item: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class ListenerPlan:
    listener: str
    training: tuple[TrainingItem, ...]
    screens: tuple[Screen, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> ListenerPlan:
        return ListenerPlan(
            listener=d["listener"],
            training=tuple(TrainingItem(t["item"], tuple(t["conditions"])) for t in d["training"]),
            screens=tuple(Screen(s["index"], s["item"], tuple(s["conditions"])) for s in d["screens"]),
        )


def listener_seed(build_id: str, listener: str) -> int:
    """A 64-bit seed from the build id and the listener id."""
    digest = hashlib.sha256(f"{build_id}\x00{listener}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def screens_per_listener(manifest: Manifest) -> int:
    """MUSHRA: one screen per item; win rate: one per item and pair."""
    return len(manifest.items) * (1 if manifest.kind == "mushra" else len(manifest.pairs))


def make_plan(manifest: Manifest, listener: str) -> ListenerPlan:
    """The listener's training items (a random sample of the test's items: BS.1534's training phase
    plays the test's own material) and screens, see the module docstring."""
    rng = random.Random(listener_seed(manifest.build_id, listener))
    item_ids = [it.id for it in manifest.items]

    def shuffled(xs) -> list:
        xs = list(xs)
        rng.shuffle(xs)
        return xs

    training = tuple(
        TrainingItem(i, tuple(shuffled(manifest.conditions)))
        for i in rng.sample(item_ids, manifest.training_items)
    )
    if manifest.kind == "mushra":
        screens = [(i, tuple(shuffled(manifest.conditions))) for i in shuffled(item_ids)]
    else:
        combos = [(i, tuple(pair)) for i in item_ids for pair in manifest.pairs]
        screens = [(i, pair if rng.random() < 0.5 else pair[::-1]) for i, pair in shuffled(combos)]
    return ListenerPlan(
        listener=listener,
        training=tuple(training),
        screens=tuple(Screen(k, item, conds) for k, (item, conds) in enumerate(screens)),
    )
