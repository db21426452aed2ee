"""Training configs on disk: one TOML file with a ``[train]`` section and one architecture section."""

from __future__ import annotations

import os
import sys

from flowtts.errors import FlowTTSError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_train_toml(path: str | os.PathLike, arch_section: str) -> dict:
    """``[train]``'s keys plus ``arch_section`` (e.g. "codec", "model") as one dict for ``from_dict``.

    Any other top-level section is an error, so a typo cannot silently fall back to defaults.
    """
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise FlowTTSError(f"{path}: cannot read training config ({e})") from e
    unknown = set(raw) - {"train", arch_section}
    if unknown:
        raise FlowTTSError(f"{path}: unknown sections {sorted(unknown)} (expected [train], [{arch_section}])")
    d = dict(raw.get("train", {}))
    if arch_section in raw:
        d[arch_section] = raw[arch_section]
    return d
