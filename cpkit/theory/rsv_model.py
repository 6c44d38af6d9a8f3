"""Synthetic RSV distributions of the paper's Fig. 3 (its appendix A.1).

Two noisy copies of one source, x_a = x0 + n_a and x_b = x0 + n_b, feed
units z = w x_a + (1 - w) x_b with mixing weights w ~ Beta(alpha, beta);
the other half of the units use the mirrored weight 1 - w. Each unit's
source variances are Gaussian conditional variances in closed form.
"""

from __future__ import annotations

import numpy as np

from cpkit.config import check_float, check_int
from cpkit.metrics.rsv import relative_source_variance


def conditional_variances(
    w: np.ndarray,
    var0: float = 1.0,
    var_a: float = 1.0,
    var_b: float = 1.0,
    published: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """SV(A, b) = Var(z | x_b) and SV(B, a) = Var(z | x_a) per unit.

    With ``published`` the published script's operator-precedence slip is
    reproduced: it evaluates ``vz * (1 - cov**2 / var_x * vz)``, that is
    Var(z) - Cov^2 Var(z)^2 / Var(x), instead of Var(z) - Cov^2 / Var(x).
    """
    w = np.asarray(w, dtype=float)
    var_z = var0 + w**2 * var_a + (1 - w) ** 2 * var_b
    cov_za = var0 + w * var_a
    cov_zb = var0 + (1 - w) * var_b
    var_xa = var0 + var_a
    var_xb = var0 + var_b
    if published:
        sv_a = var_z * (1 - cov_zb**2 / var_xb * var_z)
        sv_b = var_z * (1 - cov_za**2 / var_xa * var_z)
    else:
        sv_a = var_z - cov_zb**2 / var_xb
        sv_b = var_z - cov_za**2 / var_xa
    return sv_a, sv_b


def beta_mixing_weights(
    alpha: float,
    beta: float,
    n_units: int,
    mirrored: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Weights on x_a: Beta(alpha, beta), the second half mirrored."""
    check_float("alpha", alpha, minimum=0.0, strict=True)
    check_float("beta", beta, minimum=0.0, strict=True)
    check_int("n_units", n_units, minimum=2)
    gen = np.random.default_rng(seed)
    if not mirrored:
        return gen.beta(alpha, beta, size=n_units)
    half = n_units // 2
    w = gen.beta(alpha, beta, size=n_units)
    w[half:] = 1.0 - w[half:]
    return w


def beta_model_rsv(
    w: np.ndarray,
    var0: float = 1.0,
    var_a: float = 1.0,
    var_b: float = 1.0,
    published: bool = False,
) -> np.ndarray:
    """RSV of each unit of the Beta model.

    ``published=False``: the correct closed form, in cpkit's sign (+1 =
    only x_a). ``published=True``: exactly what the published script
    plotted, its precedence slip and its sign, (Var(z|x_a) - Var(z|x_b)) /
    sum, which is -Eq. 5.
    """
    sv_a, sv_b = conditional_variances(w, var0, var_a, var_b, published)
    if published:
        # the slip makes some "variances" negative; the script divided
        # anyway, so no positivity guard here
        with np.errstate(invalid="ignore", divide="ignore"):
            return (sv_b - sv_a) / (sv_a + sv_b)
    return relative_source_variance(sv_a, sv_b)


def sampled_conditional_variances(
    w: np.ndarray,
    n_conditions: int,
    n_samples: int,
    var0: float = 1.0,
    var_a: float = 1.0,
    var_b: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo SV(A, b) and SV(B, a), averaged over conditions.

    For each of ``n_conditions`` draws of x_b, x_a is drawn from its
    conditional law given x_b (and vice versa); the population variance of
    z over ``n_samples`` such draws estimates Var(z | x_b). Shapes (units,).
    """
    gen = np.random.default_rng(seed)
    w = np.asarray(w, dtype=float)

    def conditional_var(var_fixed: float, var_free: float, w_free):
        # draw the fixed view, then x0 given it, then the free view
        x_fixed = gen.normal(0, np.sqrt(var0 + var_fixed), (n_conditions, 1))
        gain = var0 / (var0 + var_fixed)
        post_var = var0 * var_fixed / (var0 + var_fixed)
        x0 = gain * x_fixed + gen.normal(
            0, np.sqrt(post_var), (n_conditions, n_samples)
        )
        x_free = x0 + gen.normal(
            0, np.sqrt(var_free), (n_conditions, n_samples)
        )
        z = (
            w_free[:, None, None] * x_free[None]
            + (1 - w_free[:, None, None]) * x_fixed[None]
        )
        return z.var(axis=2).mean(axis=1)

    sv_a = conditional_var(var_b, var_a, w)  # b fixed, a varies
    sv_b = conditional_var(var_a, var_b, 1 - w)  # a fixed, b varies
    return sv_a, sv_b


def interventional_rsv(
    w: np.ndarray, var0: float = 1.0, var_a: float = 1.0, var_b: float = 1.0
) -> np.ndarray:
    """RSV when the other source is swapped for an independent draw.

    This is what the paper's network estimator measures (the other view
    comes from a different image): Var over a of z with b fixed is
    w^2 Var(x_a), whatever the correlation between the sources.
    """
    w = np.asarray(w, dtype=float)
    sv_a = w**2 * (var0 + var_a)
    sv_b = (1 - w) ** 2 * (var0 + var_b)
    return relative_source_variance(sv_a, sv_b)
