"""LoRA adapters attached to a loaded model at runtime; the base weights are never modified.

A LoRA adds a low-rank update to a frozen ``nn.Linear``: ``y = W x + (alpha / r) · B A x`` with ``A``
``[r, in]`` (Kaiming-uniform, as ``nn.Linear`` initialises its weight) and ``B`` ``[out, r]`` (zeros), so an
untrained adapter is exactly the identity (Hu et al. 2021).

Why forward hooks and not wrapper modules: wrapping a Linear would rename its parameters
(``attn.wq.weight`` -> ``attn.wq.base.weight``) and model folders and checkpoints would stop loading. A
forward hook adds the delta to the Linear's output and leaves the module, its parameters and their names
as they are. Nothing is merged into ``W``, so attaching, detaching and switching adapters is a dictionary
operation: one loaded base model serves any number of voice packs, and detaching restores the base
outputs bit for bit.

Routing: an ``AdapterSet`` (one per model, ``AdapterSet.of(model)``) holds named adapters; which one a
forward pass uses is set around the call:

    adapters = AdapterSet.of(model)
    adapters.add("anna", anna)                       # hooks are registered on the Linears anna adapts
    with adapters.use("anna"):                       # every row of the batch
        loss = model(batch)
    with adapters.route(["anna", None, "bo"]):       # per batch row; row 1 runs the base model
        h = model.backbone(x, cache)

Rows are the first dimension of every adapted Linear's input: ``[B, T, dim]`` in the backbone, ``[N, 4,
dim]`` and ``[N, D]`` in the flow head. A call whose first dimension is k times the routed rows is read as
the rows tiled k times (``torch.cat([x] * k)``), which is how classifier-free guidance batches
[conditional; unconditional]. Outside ``use``/``route`` no adapter applies, and with no adapter loaded no
hook is registered at all, so the base model runs at exactly its own cost.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from flowtts.errors import FlowTTSError

# Named groups of Linear layers of ``flowtts.model.tts.TTSModel`` (fnmatch patterns over module names; ``*``
# also matches dots). Anything else given as a target is used as a pattern itself.
TARGET_GROUPS: dict[str, tuple[str, ...]] = {
    "attention": tuple(f"backbone.blocks.*.attn.{w}" for w in ("wq", "wk", "wv", "wo")),
    "ffn": tuple(f"backbone.blocks.*.ffn.{w}" for w in ("w1", "w2", "w3")),
    "flow": ("velocity_net.*",),  # every Linear of the flow head's velocity net
    "input": ("acoustic_projection",),  # the acoustic latent's projection into the backbone
}
DEFAULT_TARGETS = ("attention", "ffn", "flow")


@dataclass(frozen=True)
class LoRAConfig:
    rank: int = 16
    alpha: float = 32.0  # the update is scaled by alpha / rank
    dropout: float = 0.0  # on the LoRA branch's input, training only
    targets: tuple[str, ...] = DEFAULT_TARGETS  # group names (TARGET_GROUPS) or module-name patterns

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise FlowTTSError(f"LoRA rank must be >= 1, got {self.rank}")
        if not self.alpha > 0:
            raise FlowTTSError(f"LoRA alpha must be > 0, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise FlowTTSError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if not self.targets:
            raise FlowTTSError("LoRA needs at least one target")


def resolve_targets(model: nn.Module, targets: Sequence[str]) -> list[str]:
    """Names of the ``nn.Linear`` modules of ``model`` that ``targets`` select, in module order.

    Raises:
        FlowTTSError: a target selects no Linear layer.
    """
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    chosen: set[str] = set()
    for target in targets:
        patterns = TARGET_GROUPS.get(target, (target,))
        hit = {n for n in linears for p in patterns if fnmatch.fnmatchcase(n, p)}
        if not hit:
            raise FlowTTSError(
                f"LoRA target {target!r} selects no Linear layer (groups: {', '.join(TARGET_GROUPS)}; "
                "or a pattern such as backbone.blocks.*.attn.wq)"
            )
        chosen |= hit
    return [n for n in linears if n in chosen]


class LoRA(nn.Module):
    """The low-rank branch of one Linear: ``x`` ``[..., in]`` -> ``(alpha / r) · B A x`` ``[..., out]``."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.rank, self.alpha, self.scale = rank, alpha, alpha / rank
        self.a = nn.Parameter(torch.empty(rank, in_features))  # [r, in]
        self.b = nn.Parameter(torch.zeros(out_features, rank))  # [out, r]: zero, so the update starts at 0
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def in_features(self) -> int:
        return self.a.shape[1]

    @property
    def out_features(self) -> int:
        return self.b.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.a, self.b
        if a.dtype != x.dtype:
            a, b = a.to(x.dtype), b.to(x.dtype)
        return F.linear(F.linear(self.dropout(x), a), b) * self.scale  # [..., r] then [..., out]


def _key(path: str) -> str:
    """A module path as a ``ModuleDict`` key (keys cannot contain dots)."""
    return path.replace(".", "__")


class Adapter(nn.Module):
    """One named set of LoRAs, one per adapted Linear (by its module path in the model): a voice pack's
    weights. It belongs to an architecture, not to a model object: ``AdapterSet.add`` checks the shapes."""

    def __init__(self, config: LoRAConfig, shapes: dict[str, tuple[int, int]]):
        """``shapes``: module path -> (in_features, out_features) of each adapted Linear."""
        super().__init__()
        if not shapes:
            raise FlowTTSError("an adapter needs at least one Linear layer")
        self.config = config
        self.paths = tuple(shapes)
        self.loras = nn.ModuleDict(
            {_key(p): LoRA(i, o, config.rank, config.alpha, config.dropout) for p, (i, o) in shapes.items()}
        )
        # path -> LoRA, a plain dict (not a submodule): the forward hooks look a layer up on every call
        self._by_path = {p: self.loras[_key(p)] for p in self.paths}

    @classmethod
    def for_model(cls, model: nn.Module, config: LoRAConfig) -> Adapter:
        """A fresh (identity) adapter over the Linears of ``model`` that ``config.targets`` select."""
        names = resolve_targets(model, config.targets)
        linears = {n: model.get_submodule(n) for n in names}
        return cls(config, {n: (m.in_features, m.out_features) for n, m in linears.items()})

    def lora(self, path: str) -> LoRA | None:
        return self._by_path.get(path)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def lora_state(self) -> dict[str, torch.Tensor]:
        """``{"<path>.lora_a": A [r, in], "<path>.lora_b": B [out, r]}``: the on-disk names (pack.py)."""
        out = {}
        for p in self.paths:
            lora = self.lora(p)
            out[f"{p}.lora_a"] = lora.a.detach()
            out[f"{p}.lora_b"] = lora.b.detach()
        return out

    @classmethod
    def from_lora_state(cls, state: dict[str, torch.Tensor], config: LoRAConfig) -> Adapter:
        """The inverse of ``lora_state`` (float32 copies).

        Raises:
            FlowTTSError: missing or inconsistent tensors.
        """
        paths = sorted({k.rsplit(".", 1)[0] for k in state})
        shapes = {}
        for p in paths:
            a, b = state.get(f"{p}.lora_a"), state.get(f"{p}.lora_b")
            if a is None or b is None or a.dim() != 2 or b.dim() != 2:
                raise FlowTTSError(f"adapter weights of {p}: need 2-d lora_a and lora_b")
            if a.shape[0] != config.rank or b.shape[1] != config.rank:
                raise FlowTTSError(
                    f"adapter weights of {p}: rank {a.shape[0]}/{b.shape[1]}, expected {config.rank}"
                )
            shapes[p] = (a.shape[1], b.shape[0])
        unknown = set(state) - {f"{p}.lora_{x}" for p in paths for x in "ab"}
        if unknown:
            raise FlowTTSError(f"adapter weights: unexpected tensors {sorted(unknown)[:3]}")
        adapter = cls(config, shapes)
        with torch.no_grad():
            for p in paths:
                lora = adapter.lora(p)
                lora.a.copy_(state[f"{p}.lora_a"].float())
                lora.b.copy_(state[f"{p}.lora_b"].float())
        return adapter


class _Route:
    """Which adapter each batch row uses during one ``use``/``route`` block."""

    def __init__(self, rows: tuple[Adapter | None, ...] | None, uniform: Adapter | None = None):
        self.rows = rows
        self._uniform = [(uniform, None)] if uniform is not None else None
        self._groups: dict[tuple[int, torch.device], list[tuple[Adapter, torch.Tensor | None]]] = {}

    def groups(self, n: int, device: torch.device) -> list[tuple[Adapter, torch.Tensor | None]]:
        """(adapter, row indices ``[k]`` or None for all rows) for a call with first dimension ``n``; the
        index tensors are made once per route and call shape, not per call."""
        if self._uniform is not None:
            return self._uniform
        key = (n, device)
        hit = self._groups.get(key)
        if hit is not None:
            return hit
        rows = self.rows
        if n % len(rows):
            raise ValueError(f"adapter routing is set for {len(rows)} rows, but a layer got a batch of {n}")
        tiled = rows * (n // len(rows))  # classifier-free guidance: [rows; rows]
        by: dict[int, tuple[Adapter, list[int]]] = {}
        for i, a in enumerate(tiled):
            if a is not None:
                by.setdefault(id(a), (a, []))[1].append(i)
        if len(by) == 1 and len(next(iter(by.values()))[1]) == n:
            groups = [(next(iter(by.values()))[0], None)]
        else:
            groups = [(a, torch.tensor(idx, dtype=torch.long, device=device)) for a, idx in by.values()]
        self._groups[key] = groups
        return groups


class AdapterSet:
    """The adapters attached to one model (get it with ``AdapterSet.of(model)``), by name.

    Not an ``nn.Module`` of the model: the model's ``state_dict`` (and so model folders and checkpoints)
    never contains adapter weights. Not thread-safe: one thread runs the model (as the server's worker does).
    """

    _ATTR = "_flowtts_adapter_set"

    def __init__(self, model: nn.Module):
        self.model = model
        self._adapters: dict[str, Adapter] = {}
        self._hooks: dict[str, torch.utils.hooks.RemovableHandle] = {}
        self._route: _Route | None = None
        # the last ``route`` call's names and route: the generator routes the same rows step after step, so
        # their index tensors are made once, not per step (dropped whenever the set changes)
        self._last: tuple[tuple[str | None, ...], _Route | None] | None = None

    @classmethod
    def of(cls, model: nn.Module) -> AdapterSet:
        """The model's adapter set, created on first use (one per model, so hooks never stack)."""
        found = model.__dict__.get(cls._ATTR)
        if found is None:
            found = cls(model)
            model.__dict__[cls._ATTR] = found  # a plain attribute: not a submodule, not in the state_dict
        return found

    # --- the set ------------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def __len__(self) -> int:
        return len(self._adapters)

    def get(self, name: str) -> Adapter:
        try:
            return self._adapters[name]
        except KeyError:
            raise FlowTTSError(
                f"no adapter {name!r} is attached (attached: {', '.join(self.names()) or 'none'})"
            ) from None

    def add(self, name: str, adapter: Adapter, replace: bool = False) -> Adapter:
        """Attaches ``adapter`` under ``name`` (moved to the model's device as float32); returns it.

        Raises:
            FlowTTSError: the name is taken (unless ``replace``), or the adapter does not fit the model.
        """
        if name in self._adapters and not replace:
            raise FlowTTSError(f"an adapter named {name!r} is already attached")
        self.check(adapter)
        device = next(self.model.parameters()).device
        adapter.to(device=device, dtype=torch.float32)
        self._adapters[name] = adapter
        self._sync_hooks()
        return adapter

    def check(self, adapter: Adapter) -> None:
        """Raises ``FlowTTSError`` unless every adapted path is a Linear of the model with the same shape."""
        for path in adapter.paths:
            try:
                m = self.model.get_submodule(path)
            except AttributeError:
                m = None
            lora = adapter.lora(path)
            if not isinstance(m, nn.Linear):
                raise FlowTTSError(f"adapter layer {path} is not a Linear layer of this model")
            if (m.in_features, m.out_features) != (lora.in_features, lora.out_features):
                raise FlowTTSError(
                    f"adapter layer {path} is {lora.in_features}->{lora.out_features}, the model's is "
                    f"{m.in_features}->{m.out_features}: the adapter was made for another architecture"
                )

    def remove(self, name: str) -> Adapter:
        """Detaches and returns the adapter; hooks no adapter needs any more are removed."""
        adapter = self.get(name)
        del self._adapters[name]
        self._sync_hooks()
        return adapter

    def clear(self) -> None:
        self._adapters.clear()
        self._sync_hooks()

    def _sync_hooks(self) -> None:
        self._last = None  # a cached route may hold an adapter that is gone or replaced
        wanted = {p for a in self._adapters.values() for p in a.paths}
        for path in list(self._hooks):
            if path not in wanted:
                self._hooks.pop(path).remove()
        for path in sorted(wanted - set(self._hooks)):
            module = self.model.get_submodule(path)
            self._hooks[path] = module.register_forward_hook(self._hook(path))

    def _hook(self, path: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
            route = self._route
            if route is None:
                return None
            x = inputs[0]  # [rows, ..., in]
            for adapter, rows in route.groups(x.shape[0], x.device):
                lora = adapter.lora(path)
                if lora is None:
                    continue
                if rows is None:
                    output = output + lora(x).to(output.dtype)
                else:
                    output = output.index_add(0, rows, lora(x.index_select(0, rows)).to(output.dtype))
            return output

        return hook

    # --- routing ------------------------------------------------------------------------------------------

    @contextmanager
    def use(self, name: str | None) -> Iterator[None]:
        """Every row of the forward passes inside the block uses adapter ``name`` (None: the base model)."""
        route = _Route(None, self.get(name)) if name is not None else None
        with self._routed(route):
            yield

    @contextmanager
    def route(self, names: Sequence[str | None]) -> Iterator[None]:
        """Row i of the forward passes inside the block uses adapter ``names[i]`` (None: the base model).

        Raises:
            FlowTTSError: a name is not attached.
        """
        names = tuple(names)
        if self._last is None or self._last[0] != names:
            route = None
            if any(n is not None for n in names):
                rows = tuple(self.get(n) if n is not None else None for n in names)
                first = rows[0]
                route = _Route(None, first) if all(r is first for r in rows) else _Route(rows)
            self._last = (names, route)
        with self._routed(self._last[1]):
            yield

    @contextmanager
    def _routed(self, route: _Route | None) -> Iterator[None]:
        before = self._route
        self._route = route
        try:
            yield
        finally:
            self._route = before
