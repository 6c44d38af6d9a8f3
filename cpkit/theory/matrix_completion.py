"""Deep matrix factorisation with a critical period (follow-up, its 5.2).

A depth-D linear factorisation W = W_D ... W_1 (square n x n factors) is
fit by full-batch gradient descent to the observed entries of a low-rank
matrix. The deficit is a *different* task first: the factorisation fits
task 1 (rank r1) for T iterations, then task 2 (rank r2, same observed
positions) for a fixed number of iterations; the metric is task 2's error
over all entries. Deeper factorisations are biased toward low rank, and
what they learned first is hard to unlearn. Many runs (values of T) train
as one batched model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cpkit.config import check_float, check_int, resolve_device
from cpkit.errors import ConfigError


@dataclass(frozen=True)
class CompletionConfig:
    """Sizes and schedule of the matrix-completion experiment."""

    n: int = 100  # matrices are n x n
    rank_deficit: int = 10  # rank of task 1 (the deficit)
    rank_task: int = 5  # rank of task 2 (the task that is measured)
    n_observed: int = 2000  # observed entries, same positions for both
    depth: int = 3  # number of factors
    init_scale: float = 1e-3  # ||W||_F at init, over sqrt(n)
    lr: float = 0.2  # learning rate of full-batch gradient descent
    post_steps: int = 30_000  # iterations on task 2 after the deficit

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=2)
        check_int("rank_deficit", self.rank_deficit, minimum=1)
        check_int("rank_task", self.rank_task, minimum=1)
        if max(self.rank_deficit, self.rank_task) > self.n:
            raise ConfigError(f"ranks must be at most n = {self.n}")
        check_int("n_observed", self.n_observed, minimum=1)
        if self.n_observed > self.n * self.n:
            raise ConfigError(
                f"n_observed = {self.n_observed} exceeds the {self.n}^2 "
                "entries"
            )
        check_int("depth", self.depth, minimum=1)
        check_float("init_scale", self.init_scale, minimum=0.0, strict=True)
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_int("post_steps", self.post_steps, minimum=1)


def low_rank_matrix(n: int, rank: int, gen: np.random.Generator):
    """U V^T / sqrt(rank) with Gaussian U, V, scaled to RMS entry 1."""
    u = gen.standard_normal((n, rank))
    v = gen.standard_normal((n, rank))
    m = u @ v.T / np.sqrt(rank)
    return m * (n / np.linalg.norm(m))


def critical_period_sweep(
    cfg: CompletionConfig,
    deficit_steps: list[int],
    seed: int = 0,
    device: torch.device | str = "cpu",
    record_every: int = 0,
) -> dict[str, np.ndarray]:
    """Train one run per deficit length; return their errors.

    Run k fits task 1 for ``deficit_steps[k]`` iterations, then task 2
    for ``cfg.post_steps``; it is frozen once done. Every run starts from
    the same weights, so the deficit phase is shared: one factorisation
    fits task 1 up to the longest deficit, leaving a checkpoint at every
    requested length, and then all runs continue from their checkpoints
    on task 2 as one batched model (factors of shape (runs, n, n)). No
    iteration is computed twice. Returns ``test_error`` (runs,): mean
    squared error of task 2 over all entries at the end; ``train_error``
    likewise on the observed ones; and, with ``record_every`` > 0,
    ``curve`` (points, runs) of the task-2 test error over iterations
    with ``steps`` (points,).
    """
    steps_list = [
        check_int("deficit_steps", s, minimum=0) for s in deficit_steps
    ]
    if not steps_list:
        raise ConfigError("deficit_steps is empty")
    record_every = check_int("record_every", record_every, minimum=0)
    if isinstance(device, str):
        device = resolve_device(device)
    gen = np.random.default_rng(check_int("seed", seed, minimum=0))
    task1 = low_rank_matrix(cfg.n, cfg.rank_deficit, gen)
    task2 = low_rank_matrix(cfg.n, cfg.rank_task, gen)
    flat = gen.choice(cfg.n * cfg.n, size=cfg.n_observed, replace=False)
    mask = np.zeros(cfg.n * cfg.n)
    mask[flat] = 1.0
    mask = mask.reshape(cfg.n, cfg.n)
    # orthogonal factors times a scale, so that the product starts with
    # ||W||_F = init_scale * sqrt(n)
    per_layer = cfg.init_scale ** (1.0 / cfg.depth)
    shared = []
    for _ in range(cfg.depth):
        q, _ = np.linalg.qr(gen.standard_normal((cfg.n, cfg.n)))
        shared.append(
            torch.tensor(per_layer * q[None], device=device).requires_grad_()
        )
    t1 = torch.tensor(task1, device=device)
    t2 = torch.tensor(task2, device=device)
    obs = torch.tensor(mask, device=device)

    def product(factors: list[torch.Tensor]) -> torch.Tensor:
        w = factors[0]
        for f in factors[1:]:
            w = f @ w
        return w

    def test_error(factors: list[torch.Tensor]) -> np.ndarray:
        w = product(factors).detach()
        return ((w - t2) ** 2).mean(dim=(1, 2)).cpu().numpy()

    def step(factors: list[torch.Tensor], target: torch.Tensor, where: str):
        """One full-batch gradient step of every run in ``factors``."""
        w = product(factors)
        loss = 0.5 * (((w - target) * obs) ** 2).sum() / cfg.n_observed
        if not torch.isfinite(loss):
            raise ConfigError(
                f"gradient descent diverged {where} (lr = {cfg.lr:g}): "
                "lower lr"
            )
        grads = torch.autograd.grad(loss, factors)
        with torch.no_grad():
            for f, g in zip(factors, grads, strict=True):
                f -= cfg.lr * g

    # the shared deficit phase: checkpoints at every requested length
    longest = max(steps_list)
    wanted = set(steps_list)
    saved: dict[int, list[torch.Tensor]] = {}
    prefix: dict[int, float] = {}  # recorded task-2 errors, by iteration
    for it in range(longest + 1):
        if it in wanted:
            saved[it] = [f.detach().clone() for f in shared]
        if record_every and it % record_every == 0:
            prefix[it] = float(test_error(shared)[0])
        if it < longest:
            step(shared, t1, f"at deficit iteration {it}")

    # the task phase: every run from its checkpoint, batched
    factors = [
        torch.cat([saved[s][layer] for s in steps_list]).requires_grad_()
        for layer in range(cfg.depth)
    ]
    switch = np.array(steps_list)
    total = longest + cfg.post_steps
    points = np.arange(0, total + 1, record_every) if record_every else []
    curve = np.full((len(points), len(steps_list)), np.nan)
    for row, it in enumerate(points):
        before = switch >= it  # runs still in (or at the end of) the deficit
        curve[row, before] = prefix.get(it, np.nan)
    for j in range(1, cfg.post_steps + 1):
        step(factors, t2, f"at task iteration {j}")
        if record_every:
            due = (switch + j) % record_every == 0
            if due.any():
                errors = test_error(factors)
                rows = (switch[due] + j) // record_every
                curve[rows, np.flatnonzero(due)] = errors[due]
    w = product(factors).detach()
    final = ((w - t2) ** 2).mean(dim=(1, 2)).cpu().numpy()
    out = {
        "test_error": final,
        "train_error": (((w - t2) * obs) ** 2).sum(dim=(1, 2)).cpu().numpy()
        / cfg.n_observed,
    }
    if record_every:
        # a finished run is frozen: its error holds to the longest run's end
        for k, end in enumerate(switch + cfg.post_steps):
            curve[points > end, k] = final[k]
        out["curve"] = curve
        out["steps"] = points
    return out
