"""Sensor dropping in deep and shallow linear networks (paper Fig. 2).

A linear network maps whitened sensor readings x (one coordinate per
sensor) to task outputs y. Its learning dynamics decouple along the
singular modes of the input-output correlation Sigma_yx = U S V^T
(Saxe, McClelland and Ganguli). Time ``t`` is gradient-flow time: ``t``
equals the number of gradient steps times the learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cpkit.config import (
    check_choice,
    check_float,
    check_int,
    resolve_device,
)
from cpkit.errors import ConfigError

#: Sigma_yx of the paper's Fig. 2: 5 tasks (rows) x 8 sensors (columns).
FIG2_SIGMA_YX = np.array(
    [
        [1, 0, 3, 1, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0, 0, 1, 0],
        [0, 0, 3, 0, 0, 0, 0, 1],
    ],
    dtype=float,
)

ARCHITECTURES = ("deep", "shallow")


def drop_sensors(sigma_yx: np.ndarray, sensors: list[int]) -> np.ndarray:
    """Sigma_yx when the given sensors (1-based, as in the paper) read 0."""
    out = np.array(sigma_yx, dtype=float)
    for sensor in sensors:
        check_int("dropped sensor", sensor)
        if not 1 <= sensor <= out.shape[1]:
            raise ConfigError(
                f"dropped sensor {sensor} is not in 1..{out.shape[1]}"
            )
        out[:, sensor - 1] = 0.0
    return out


def task_modes(
    sigma_yx: np.ndarray, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero singular modes (U: (m, r), s: (r,), V: (n, r))."""
    u, s, vt = np.linalg.svd(sigma_yx, full_matrices=False)
    keep = s > tol * max(1.0, s.max(initial=0.0))
    return u[:, keep], s[keep], vt[keep].T


def mode_strength(
    s: np.ndarray, t: np.ndarray, a0: float, architecture: str
) -> np.ndarray:
    """Closed-form strength a(t) of each mode; shape (len(t), len(s)).

    deep (one hidden layer, balanced start a0): da/dt = 2 a (s - a), so
    a(t) = s e^{2st} / (e^{2st} - 1 + s/a0). shallow: da/dt = s - a, so
    a(t) = s + (a0 - s) e^{-t}.
    """
    check_choice("architecture", architecture, ARCHITECTURES)
    a0 = check_float("a0", a0, minimum=0.0, strict=True)
    s = np.asarray(s, dtype=float)[None, :]
    t = np.asarray(t, dtype=float)[:, None]
    if architecture == "shallow":
        return s + (a0 - s) * np.exp(-t)
    # logistic form, written to stay finite for large s t
    return s / (1.0 + (s / a0 - 1.0) * np.exp(-2.0 * s * t))


def closed_form_weights(
    sigma_yx: np.ndarray, t: np.ndarray, a0: float, architecture: str
) -> np.ndarray:
    """End-to-end map W(t) = sum_a a_a(t) u_a v_a^T; shape (T, m, n)."""
    u, s, v = task_modes(sigma_yx)
    a = mode_strength(s, t, a0, architecture)
    return np.einsum("ir,tr,jr->tij", u, a, v)


@dataclass(frozen=True)
class LinearTrainingConfig:
    """Gradient descent on a deep or shallow linear network (Fig. 2)."""

    architecture: str = "deep"  # "deep" (one hidden layer) or "shallow"
    hidden: int = 16  # hidden units of the deep network
    a0: float = 1e-4  # initial strength of every task mode
    lr: float = 0.01  # learning rate = gradient-flow time per step
    steps: int = 1000  # number of full-batch gradient steps
    init: str = "aligned"  # "aligned" to the task modes, or "random"
    seed: int = 0  # seed of the random rotation / random init

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_int("hidden", self.hidden, minimum=1)
        check_float("a0", self.a0, minimum=0.0, strict=True)
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_int("steps", self.steps, minimum=1)
        check_choice("init", self.init, ("aligned", "random"))
        check_int("seed", self.seed, minimum=0)


def whitened_dataset(
    sigma_yx: np.ndarray,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs X (P, n) with identity covariance and targets Y = X Sigma^T.

    P = n samples, x_mu = sqrt(n) e_mu, so (1/P) X^T X = I and
    (1/P) Y^T X = Sigma_yx. A zero column of Sigma_yx (a dropped sensor)
    is a sensor that reads 0 in every sample.
    """
    n = sigma_yx.shape[1]
    dead = np.all(sigma_yx == 0.0, axis=0)
    x = np.sqrt(n) * np.eye(n)
    x[:, dead] = 0.0
    y = x @ sigma_yx.T
    return torch.tensor(x), torch.tensor(y)


def _initial_layers(
    sigma_yx: np.ndarray, cfg: LinearTrainingConfig
) -> list[torch.Tensor]:
    """Initial weights; product = a0 * sum_a u_a v_a^T when aligned."""
    m, n = sigma_yx.shape
    u, s, v = task_modes(sigma_yx)
    rank = len(s)
    gen = np.random.default_rng(cfg.seed)
    if cfg.architecture == "shallow":
        if cfg.init == "aligned":
            return [torch.tensor(cfg.a0 * u @ v.T)]
        scale = cfg.a0 / np.sqrt(n)
        return [torch.tensor(scale * gen.standard_normal((m, n)))]
    if cfg.hidden < rank:
        raise ConfigError(
            f"hidden = {cfg.hidden} is smaller than the task's rank {rank}"
        )
    if cfg.init == "aligned":
        # a random orthonormal frame in the hidden layer, scaled so that
        # every mode starts with strength a0 split evenly over both layers
        q, _ = np.linalg.qr(gen.standard_normal((cfg.hidden, rank)))
        w1 = np.sqrt(cfg.a0) * q @ v.T
        w2 = np.sqrt(cfg.a0) * u @ q.T
        return [torch.tensor(w1), torch.tensor(w2)]
    scale = np.sqrt(cfg.a0 / np.sqrt(cfg.hidden))
    w1 = scale * gen.standard_normal((cfg.hidden, n)) / np.sqrt(n)
    w2 = scale * gen.standard_normal((m, cfg.hidden)) / np.sqrt(m)
    return [torch.tensor(w1), torch.tensor(w2)]


def train_linear_network(
    sigma_yx: np.ndarray,
    cfg: LinearTrainingConfig,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Train by full-batch gradient descent; return (t, W(t)).

    The loss is the mean over samples of 1/2 ||y - W x||^2 on the
    whitened data set, in float64. W(t) has shape (steps + 1, m, n).
    """
    if isinstance(device, str):
        device = resolve_device(device)
    x, y = (v.to(device) for v in whitened_dataset(sigma_yx))
    layers = [
        w.to(device).requires_grad_(True)
        for w in _initial_layers(sigma_yx, cfg)
    ]
    opt = torch.optim.SGD(layers, lr=cfg.lr)
    history = np.empty((cfg.steps + 1, *sigma_yx.shape))

    def end_to_end() -> torch.Tensor:
        w = layers[0]
        for layer in layers[1:]:
            w = layer @ w
        return w

    for step in range(cfg.steps + 1):
        # record the map before the update
        w = end_to_end()
        history[step] = w.detach().cpu().numpy()
        if step == cfg.steps:
            break

        # loss and one gradient step
        loss = 0.5 * ((y - x @ w.T) ** 2).sum(dim=1).mean()
        if not torch.isfinite(loss):
            raise ConfigError(
                f"gradient descent diverged at step {step} (lr = "
                f"{cfg.lr:g}): lower lr"
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = cfg.lr * np.arange(cfg.steps + 1)
    return t, history


def first_crossing(t: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time ``values`` reaches ``level`` (linear interpolation)."""
    above = np.nonzero(values >= level)[0]
    if len(above) == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(t[0])
    frac = (level - values[i - 1]) / (values[i] - values[i - 1])
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))
