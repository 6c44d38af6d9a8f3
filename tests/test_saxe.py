"""Fig. 2 theory: closed forms against their ODEs, reference values, GD."""

import numpy as np
import pytest

from cpkit import ConfigError
from cpkit.reference import FIG2_CROSSING_STEP
from cpkit.theory import saxe

T = np.linspace(0, 10, 1000)  # the published script's time grid


@pytest.mark.parametrize("arch", ["deep", "shallow"])
def test_mode_strength_solves_its_ode(arch):
    s = np.array([4.0, 1.0, 0.3])
    t = np.linspace(0, 5, 50001)
    a = saxe.mode_strength(s, t, 1e-3, arch)
    dadt = np.gradient(a, t, axis=0)
    rhs = 2 * a * (s - a) if arch == "deep" else s - a
    assert np.allclose(dadt[1:-1], rhs[1:-1], atol=2e-3)
    assert np.allclose(a[0], 1e-3)
    late = saxe.mode_strength(s, np.array([60.0]), 1e-3, arch)
    assert np.allclose(late[0], s, atol=1e-6)


@pytest.mark.parametrize(
    ("arch", "label", "drop"),
    [
        ("deep", "all sensors", []),
        ("deep", "sensor 3 dropped", [3]),
        ("shallow", "all sensors", []),
        ("shallow", "sensor 3 dropped", [3]),
    ],
)
def test_fig2_reference_crossings(arch, label, drop):
    # sensor 8 -> task 5 reaches 0.5 where the published formula says
    sigma = saxe.drop_sensors(saxe.FIG2_SIGMA_YX, drop)
    w = saxe.closed_form_weights(sigma, T, 1e-4, arch)
    step = int(np.nonzero(w[:, 4, 7] >= 0.5)[0][0])
    assert abs(step - FIG2_CROSSING_STEP[arch, label]) <= 1


def test_fig2_transient_and_green_weight():
    # re-run of the published formula: max before step 300 is 0.57 with
    # all sensors and 0.04 without sensor 3; green reaches 2.7 at 150
    w_all = saxe.closed_form_weights(saxe.FIG2_SIGMA_YX, T, 1e-4, "deep")
    w_drop = saxe.closed_form_weights(
        saxe.drop_sensors(saxe.FIG2_SIGMA_YX, [3]), T, 1e-4, "deep"
    )
    assert w_all[:300, 4, 7].max() == pytest.approx(0.57, abs=0.01)
    assert w_drop[:300, 4, 7].max() == pytest.approx(0.04, abs=0.01)
    assert abs(np.nonzero(w_all[:, 4, 2] >= 2.7)[0][0] - 150) <= 1
    # the dropped sensor's weights stay exactly zero
    assert np.allclose(w_drop[:, :, 2], 0, atol=1e-12)


def test_singular_values_of_fig2_task():
    s = np.linalg.svd(saxe.FIG2_SIGMA_YX, compute_uv=False)
    s_drop = np.linalg.svd(
        saxe.drop_sensors(saxe.FIG2_SIGMA_YX, [3]), compute_uv=False
    )
    assert np.allclose(s, [4.421, 1.732, 1.567, 1, 1], atol=1e-3)
    assert np.allclose(s_drop, [1.732, 1.732, 1, 1, 1], atol=1e-3)


def _gd_error(arch, lr, drop=()):
    sigma = saxe.drop_sensors(saxe.FIG2_SIGMA_YX, list(drop))
    steps = int(round(6.0 / lr))
    cfg = saxe.LinearTrainingConfig(architecture=arch, lr=lr, steps=steps)
    t, w = saxe.train_linear_network(sigma, cfg)
    exact = saxe.closed_form_weights(sigma, t, cfg.a0, arch)
    return np.abs(w - exact).max()


@pytest.mark.parametrize("drop", [(), (3,)])
def test_gradient_descent_matches_closed_form(drop):
    # tolerance: 0.05 on weights of size up to 3 at lr = 0.0025, and the
    # error is the time discretisation: halving lr about halves it
    coarse = _gd_error("deep", 0.005, drop)
    fine = _gd_error("deep", 0.0025, drop)
    assert fine < 0.05
    assert 1.6 < coarse / fine < 2.4
    assert _gd_error("shallow", 0.0025, drop) < 0.01


def test_dropping_a_sensor_delays_deep_not_shallow():
    sigma_drop = saxe.drop_sensors(saxe.FIG2_SIGMA_YX, [3])
    cross = {}
    for arch in ("deep", "shallow"):
        for name, sigma in (("all", saxe.FIG2_SIGMA_YX), ("drop", sigma_drop)):
            cfg = saxe.LinearTrainingConfig(architecture=arch)
            t, w = saxe.train_linear_network(sigma, cfg)
            cross[arch, name] = saxe.first_crossing(t, w[:, 4, 7], 0.5)
    assert cross["deep", "drop"] - cross["deep", "all"] > 1.5
    # the shallow weight differs only through initial weights of size a0
    assert cross["shallow", "drop"] == pytest.approx(
        cross["shallow", "all"], abs=1e-3
    )


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ConfigError, match="dropped sensor 9"):
        saxe.drop_sensors(saxe.FIG2_SIGMA_YX, [9])
    with pytest.raises(ConfigError, match="hidden = 3"):
        saxe.train_linear_network(
            saxe.FIG2_SIGMA_YX, saxe.LinearTrainingConfig(hidden=3)
        )
    with pytest.raises(ConfigError, match="architecture"):
        saxe.LinearTrainingConfig(architecture="wide")
    with pytest.raises(ConfigError, match="a0"):
        saxe.mode_strength(np.ones(1), T, -1.0, "deep")
