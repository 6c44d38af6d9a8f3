"""Two-pathway deep linear nets: ODE invariants, GD agreement, escape."""

import numpy as np
import pytest

from cpkit import ConfigError
from cpkit.theory import pathways as pw

SHARED = pw.shared_input_task((1.0,))


def _run(depth, **kw):
    base = {"total_time": 40.0, "dt": 0.01, "init_scale": 1e-3}
    base.update(kw)
    return pw.PathwayRun(depth=depth, **base)


def test_converges_to_the_optimal_line():
    for depth in (1, 2, 4):
        _, k = pw.simulate_ode(SHARED, _run(depth), record_every=100)
        assert k[-1, 0].sum() == pytest.approx(1.0, abs=1e-3)
        assert k[-1, 0, 0] == pytest.approx(k[-1, 0, 1])  # equal start


def test_conserved_quantities_without_a_deficit():
    # D = 1 keeps K_a - K_b, D = 2 keeps K_a / K_b (both get the same
    # error; the rate is K^(2 - 2/D))
    k0 = np.array([[2e-3, 1e-3]])
    _, k1 = pw.simulate_ode(SHARED, _run(1), k0=k0, record_every=50)
    assert np.allclose(k1[:, 0, 0] - k1[:, 0, 1], 1e-3, atol=1e-9)
    _, k2 = pw.simulate_ode(SHARED, _run(2), k0=k0, record_every=50)
    assert np.allclose(k2[:, 0, 0] / k2[:, 0, 1], 2.0, rtol=1e-6)
    # D = 4 amplifies the initial advantage
    _, k4 = pw.simulate_ode(SHARED, _run(4), k0=k0, record_every=50)
    assert k4[-1, 0, 0] / k4[-1, 0, 1] > 10


def test_gate_freezes_pathway_b_and_decides_the_split():
    run = _run(4, deficit_onset=0.0, deficit_length=10.0)
    t, k = pw.simulate_ode(SHARED, run, record_every=1)
    during = t < 10.0
    assert np.allclose(k[during, 0, 1], 1e-3, rtol=1e-12)
    assert pw.final_split(k[-1])[0] < 0.01
    late = _run(4, deficit_onset=30.0, deficit_length=10.0)
    _, k_late = pw.simulate_ode(SHARED, late, record_every=100)
    assert pw.final_split(k_late[-1])[0] == pytest.approx(0.5, 1e-3)


def test_batched_windows_equal_single_runs():
    windows = np.array([[0.0, 5.0], [10.0, 5.0], [20.0, 0.0]])
    _, batch = pw.simulate_ode(SHARED, _run(3), windows=windows)
    for i, (onset, length) in enumerate(windows):
        run = _run(3, deficit_onset=onset, deficit_length=length)
        _, single = pw.simulate_ode(SHARED, run)
        assert np.array_equal(batch[:, i], single)


def test_gradient_descent_follows_the_ode():
    task = pw.shared_input_task((2.0, 1.0))

    def error(dt):
        run = pw.PathwayRun(
            depth=3,
            init_scale=1e-2,
            total_time=12.0,
            dt=dt,
            deficit_onset=1.0,
            deficit_length=3.0,
        )
        t, k_gd, leak = pw.train_gradient_descent(task, run, record_every=1)
        fine = pw.PathwayRun(
            depth=3,
            init_scale=1e-2,
            total_time=12.0,
            dt=1e-3,
            deficit_onset=1.0,
            deficit_length=3.0,
        )
        t_ode, k_ode = pw.simulate_ode(task, fine, record_every=1)
        idx = np.searchsorted(t_ode, t - 1e-9)
        assert leak.max() < 1e-10  # modes stay decoupled
        return np.abs(k_gd - k_ode[idx]).max()

    coarse, fine = error(0.01), error(0.005)
    assert fine < 0.03
    assert 1.6 < coarse / fine < 2.4  # first order in the learning rate


def test_noisy_task_optimum_and_convergence():
    noise = 0.5
    task = pw.noisy_sources_task((1.0,), noise, noise)
    assert task.optimal_loss() == pytest.approx(0.5 * (1 - 2 / (2 + noise)))
    _, k = pw.simulate_ode(task, _run(2, total_time=60.0), record_every=100)
    assert k[-1, 0] == pytest.approx([1 / (2 + noise)] * 2, abs=1e-4)


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_escape_time_formula(depth):
    # pathway a already at its single-sensor optimum, b at K0: b leaves
    # its plateau after about t_esc computed with the residual error r
    task = pw.noisy_sources_task((1.0,), 1.0, 1.0)
    k0, r = 1e-3, 0.5
    formula = pw.escape_time(depth, k0, r)
    run = pw.PathwayRun(depth=depth, total_time=3 * formula, dt=0.01)
    t, k = pw.simulate_ode(task, run, k0=np.array([[0.5, k0]]), record_every=5)
    k_opt = 1 / 3
    measured = t[np.nonzero(k[:, 0, 1] >= 0.5 * k_opt)[0][0]]
    assert 0.8 < measured / formula < 1.1


def test_escape_time_depth_two_and_one():
    # D = 2: exponential escape, ln(1/K0) / (2 r) to reach K = 1 under
    # fixed error; K_b reaches half its optimum (1/6) a bit sooner
    task = pw.noisy_sources_task((1.0,), 1.0, 1.0)
    formula = pw.escape_time(2, 1e-3, 0.5)
    assert formula == pytest.approx(np.log(1e3))
    run = pw.PathwayRun(depth=2, total_time=3 * formula, dt=0.01)
    t, k = pw.simulate_ode(
        task, run, k0=np.array([[0.5, 1e-3]]), record_every=5
    )
    measured = t[np.nonzero(k[:, 0, 1] >= 1 / 6)[0][0]]
    assert 0.75 < measured / formula < 1.0
    assert pw.escape_time(1, 1e-3, 0.5) == 0.0  # no plateau
    with pytest.raises(ConfigError, match="no plateau"):
        pw.escape_time(3, 2.0, 0.5)


def test_divergence_is_reported_not_returned():
    run = pw.PathwayRun(depth=3, init_scale=1e6, total_time=10.0, dt=0.1)
    with pytest.raises(ConfigError, match="diverged"):
        pw.simulate_ode(SHARED, run)
    with pytest.raises(ConfigError, match="diverged"):
        pw.train_gradient_descent(SHARED, run)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 0}, "depth = 0"),
        ({"deficit_onset": -5.0}, "deficit_onset = -5"),
        ({"deficit_onset": 35.0, "deficit_length": 10.0}, "ends after"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"dt": 100.0}, "dt = 100"),
    ],
)
def test_bad_runs_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        _run(**{"depth": 2, **kwargs})


def test_bad_tasks_are_refused():
    with pytest.raises(ConfigError, match="singular_values"):
        pw.shared_input_task((1.0, -1.0))
    with pytest.raises(ConfigError, match="noise_a"):
        pw.noisy_sources_task((1.0,), 0.0, 1.0)
    with pytest.raises(ConfigError, match="k0"):
        pw.simulate_ode(SHARED, _run(2), k0=np.zeros((1, 2)))
