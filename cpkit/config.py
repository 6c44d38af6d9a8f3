"""Validation of parameters shared by every chapter: profile, device, seed.

Every check raises :class:`cpkit.ConfigError` with a one-line message that
names the parameter, its value and what would be accepted.
"""

from __future__ import annotations

import math
import random
from numbers import Integral, Real

import numpy as np
import torch

from cpkit.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigError(f"{name} = {value!r} must be an integer")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} = {value} must be >= {minimum}")
    return int(value)


def check_float(
    name: str,
    value: object,
    minimum: float | None = None,
    strict: bool = False,
) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``.

    With ``strict`` the value must be greater than ``minimum``, else at
    least ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{name} = {value!r} must be a number")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        raise ConfigError(f"{name} is too large an integer") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} = {value} must be finite")
    if minimum is not None:
        if strict and value <= minimum:
            raise ConfigError(f"{name} = {value:g} must be > {minimum:g}")
        if not strict and value < minimum:
            raise ConfigError(f"{name} = {value:g} must be >= {minimum:g}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, or raise naming it."""
    if value not in choices:
        raise ConfigError(
            f"{name} = {value!r} is not one of: {', '.join(choices)}"
        )
    return str(value)


def check_window(
    onset: float, length: float, total: float, unit: str = "epochs"
) -> tuple[float, float]:
    """Check a deficit window [onset, onset + length) inside [0, total]."""
    onset = check_float("deficit_onset", onset, minimum=0.0)
    length = check_float("deficit_length", length, minimum=0.0)
    if onset + length > total:
        raise ConfigError(
            f"deficit window [{onset:g}, {onset + length:g}) ends after the "
            f"run's {total:g} {unit}: lower deficit_onset or deficit_length"
        )
    return onset, length


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"`` into a device."""
    check_choice("device", device, DEVICES)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device = 'cuda' but torch sees no CUDA GPU: use device = 'cpu' "
            "or install a CUDA build of torch (README, 'Using a GPU')"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device = 'mps' but torch sees no Apple GPU")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator on CPU."""
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cpu_threads(device: torch.device | str) -> int | None:
    """The CPU threads a run on ``device`` computes with (None off the
    CPU): on a CPU the last bits of a result depend on it, so it is part
    of every run's key."""
    if torch.device(device).type != "cpu":
        return None
    return torch.get_num_threads()
