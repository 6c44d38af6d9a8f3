"""RSV: sign convention, estimators, and the Beta model of Fig. 3."""

import numpy as np
import pytest

from cpkit import ConfigError, reference
from cpkit.metrics.rsv import (
    histogram,
    relative_source_variance,
    rsv_from_grid,
)
from cpkit.theory import rsv_model


def test_sign_convention():
    # +1: only source a; -1: only source b; 0: equal; no variance: NaN
    rsv = relative_source_variance([1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 2.0, 0.0])
    assert rsv[:3].tolist() == [1.0, -1.0, 0.0]
    assert np.isnan(rsv[3])
    with pytest.raises(ValueError, match=">= 0"):
        relative_source_variance([-1.0], [0.5])


def test_grid_estimator_on_units_of_known_dependence():
    gen = np.random.default_rng(0)
    a, b = gen.standard_normal(50), gen.standard_normal(50)
    only_a = np.repeat(a[:, None], 50, axis=1)  # f(a_i, b_j) = a_i
    only_b = np.repeat(b[None, :], 50, axis=0)  # f(a_i, b_j) = b_j
    same = gen.standard_normal(50)
    mixed = same[:, None] + same[None, :]  # equal variance from each
    grid = np.stack([only_a, only_b, mixed], axis=-1)
    rsv = rsv_from_grid(grid)
    assert rsv.shape == (50, 3)
    assert np.allclose(rsv[:, 0], 1.0)
    assert np.allclose(rsv[:, 1], -1.0)
    assert np.allclose(rsv[:, 2], 0.0)
    with pytest.raises(ValueError, match="shape"):
        rsv_from_grid(np.zeros((3, 4)))


def test_beta_model_extremes():
    rsv = rsv_model.beta_model_rsv(np.array([1.0, 0.0, 0.5]))
    assert rsv.tolist() == pytest.approx([1.0, -1.0, 0.0])


def test_monte_carlo_matches_closed_form():
    w = np.linspace(0, 1, 11)
    sv_a, sv_b = rsv_model.conditional_variances(w)
    mc_a, mc_b = rsv_model.sampled_conditional_variances(w, 300, 600)
    assert np.allclose(mc_a, sv_a, rtol=0.03, atol=1e-6)
    assert np.allclose(mc_b, sv_b, rtol=0.03, atol=1e-6)


def test_grid_estimator_follows_interventional_closed_form():
    gen = np.random.default_rng(1)
    n = 400
    x0 = gen.standard_normal(n)
    x_a, x_b = x0 + gen.standard_normal(n), x0 + gen.standard_normal(n)
    w = np.linspace(0.05, 0.95, 7)
    grid = w * x_a[:, None, None] + (1 - w) * x_b[None, :, None]
    est = rsv_from_grid(grid).mean(axis=0)
    assert np.allclose(est, rsv_model.interventional_rsv(w), atol=0.08)


def test_published_slip_as_described():
    # one-sided panel (alpha 1, beta 10): with the slip, the script's sign
    # lands at -1; with the correct formula in the script's sign, at +1
    w = rsv_model.beta_mixing_weights(1, 10, 20000, mirrored=False)
    published = rsv_model.beta_model_rsv(w, published=True)
    correct_script_sign = -rsv_model.beta_model_rsv(w)
    assert published.mean() < -0.8
    assert correct_script_sign.mean() > 0.8
    # the slip yields negative "variances" for some weights
    sv_a, sv_b = rsv_model.conditional_variances(
        np.linspace(0, 1, 101), published=True
    )
    assert min(sv_a.min(), sv_b.min()) < 0


def test_shapes_of_fig3_panels():
    def summary(alpha, beta):
        w = rsv_model.beta_mixing_weights(alpha, beta, 20000)
        return rsv_model.beta_model_rsv(w)

    unimodal = summary(20, 20)
    assert abs(unimodal.mean()) < 0.01 and np.percentile(unimodal, 99) < 0.8
    bimodal = summary(30, 20)
    frac, _ = histogram(bimodal)
    centres = np.linspace(-1.15, 1.15, 40)[:-1] + 0.059 / 2
    assert abs(centres[np.argmax(frac)]) > 0.2  # modes away from zero
    polar = summary(1, 20)
    assert np.mean(np.abs(polar) > 0.8) > 0.5


def test_histogram_counts_nans():
    fractions, nans = histogram(np.array([0.0, 0.5, np.nan, 2.0]))
    assert nans == 1
    assert fractions.sum() == pytest.approx(2 / 3)  # 2.0 is out of bins


def test_paper_histograms_flip_into_cpkit_sign():
    # the paper's Fig. 4 "Blur 180 epoch" panel has mean -0.64 in its own
    # sign (units driven by the clean left view); +0.64 in ours
    centres, fractions = reference.rsv_histogram("Fig4", "Blur180epoch")
    assert np.sum(centres * fractions) == pytest.approx(0.64, abs=0.02)
    assert np.all(np.diff(centres) > 0)
    with pytest.raises(ConfigError, match="no digitized RSV panel"):
        reference.rsv_histogram("Fig99", "x")


def test_beta_weights_validate():
    with pytest.raises(ConfigError, match="alpha"):
        rsv_model.beta_mixing_weights(0, 1, 10)
    with pytest.raises(ConfigError, match="n_units"):
        rsv_model.beta_mixing_weights(1, 1, 1)
