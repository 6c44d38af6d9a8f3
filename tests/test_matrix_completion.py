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
