"""Deep matrix completion: the shallow baseline in closed form, validation."""

import numpy as np
import pytest

from cpkit import ConfigError
from cpkit.theory.matrix_completion import (
    CompletionConfig,
    critical_period_sweep,
    low_rank_matrix,
)


def test_low_rank_matrix_has_rank_and_unit_rms():
    m = low_rank_matrix(30, 3, np.random.default_rng(0))
    assert np.linalg.matrix_rank(m) == 3
    assert np.sqrt(np.mean(m**2)) == pytest.approx(1.0)


def test_shallow_factorisation_has_no_memory_of_the_deficit():
    # D = 1: gradient descent only moves observed entries, so at
    # convergence W = task on them and W = init elsewhere, whatever came
    # before: the test error is the same for every deficit length
    cfg = CompletionConfig(
        n=12,
        rank_deficit=2,
        rank_task=1,
        n_observed=60,
        depth=1,
        lr=4.0,
        post_steps=400,
    )
    out = critical_period_sweep(cfg, [0, 50, 200])
    assert out["train_error"].max() < 1e-10
    assert np.ptp(out["test_error"]) < 1e-8
    # and it equals the closed form: mean over unobserved of (task - w0)^2
    # (w0 is of order 1e-3 / sqrt(n), negligible at this tolerance)
    gen = np.random.default_rng(0)
    low_rank_matrix(cfg.n, cfg.rank_deficit, gen)
    task = low_rank_matrix(cfg.n, cfg.rank_task, gen)
    observed = gen.choice(cfg.n**2, size=cfg.n_observed, replace=False)
    unseen = np.ones(cfg.n**2, bool)
    unseen[observed] = False
    expected = np.sum(task.ravel()[unseen] ** 2) / cfg.n**2
    assert out["test_error"][0] == pytest.approx(expected, rel=1e-3)


def test_runs_after_their_budget_are_frozen():
    cfg = CompletionConfig(
        n=10,
        rank_deficit=2,
        rank_task=1,
        n_observed=50,
        depth=2,
        lr=1.0,
        post_steps=30,
    )
    out = critical_period_sweep(cfg, [0, 20], record_every=1)
    curve = out["curve"][:, 0]  # the run without a deficit stops at 30
    assert np.all(curve[31:] == curve[30])
    assert not np.all(curve[1:31] == curve[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 0}, "depth = 0"),
        ({"rank_task": 150}, "ranks must be at most n"),
        ({"n_observed": 10_001}, "exceeds"),
        ({"lr": 0.0}, "lr = 0 must be > 0"),
    ],
)
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CompletionConfig(**kwargs)


def test_empty_sweep_is_refused():
    cfg = CompletionConfig(n=4, rank_deficit=1, rank_task=1, n_observed=4)
    with pytest.raises(ConfigError, match="deficit_steps is empty"):
        critical_period_sweep(cfg, [])


def _one_run(cfg, deficit, seed=0):
    """Plain gradient descent of one run, written out independently."""
    import torch

    gen = np.random.default_rng(seed)
    task1 = torch.tensor(low_rank_matrix(cfg.n, cfg.rank_deficit, gen))
    task2 = torch.tensor(low_rank_matrix(cfg.n, cfg.rank_task, gen))
    flat = gen.choice(cfg.n * cfg.n, size=cfg.n_observed, replace=False)
    obs = torch.zeros(cfg.n * cfg.n, dtype=torch.float64)
    obs[flat] = 1.0
    obs = obs.reshape(cfg.n, cfg.n)
    scale = cfg.init_scale ** (1.0 / cfg.depth)
    factors = []
    for _ in range(cfg.depth):
        q, _ = np.linalg.qr(gen.standard_normal((cfg.n, cfg.n)))
        factors.append(torch.tensor(scale * q, requires_grad=True))
    errors = []
    for it in range(deficit + cfg.post_steps + 1):
        w = factors[0]
        for f in factors[1:]:
            w = f @ w
        errors.append(float(((w.detach() - task2) ** 2).mean()))
        if it == deficit + cfg.post_steps:
            break
        target = task1 if it < deficit else task2
        loss = 0.5 * (((w - target) * obs) ** 2).sum() / cfg.n_observed
        grads = torch.autograd.grad(loss, factors)
        for f, g in zip(factors, grads, strict=True):
            with torch.no_grad():
                f -= cfg.lr * g
    return np.array(errors)


def test_shared_deficit_phase_matches_independent_runs():
    # the sweep shares the deficit phase and batches the task phase; each
    # run must still be exactly plain gradient descent on its schedule
    cfg = CompletionConfig(
        n=10,
        rank_deficit=3,
        rank_task=1,
        n_observed=50,
        depth=3,
        init_scale=0.1,
        lr=0.5,
        post_steps=40,
    )
    lengths = [25, 0, 7]
    out = critical_period_sweep(cfg, lengths, record_every=5)
    assert list(out["steps"]) == list(range(0, 25 + 40 + 1, 5))
    for k, length in enumerate(lengths):
        alone = _one_run(cfg, length)
        assert out["test_error"][k] == pytest.approx(alone[-1], rel=1e-9)
        # the curve: the run's own errors, then frozen at its last one
        expected = [alone[min(it, len(alone) - 1)] for it in out["steps"]]
        assert out["curve"][:, k] == pytest.approx(expected, rel=1e-9)
    # the deficit changed the outcome: not a vacuous comparison
    assert out["test_error"][0] != pytest.approx(out["test_error"][1])
