"""Relative Source Variance (RSV), the paper's per-unit fusion statistic.

The sign convention, fixed here and used everywhere in cpkit and the book,
is the paper's Eq. 5 as printed:

    RSV = (SV(A, b) - SV(B, a)) / (SV(A, b) + SV(B, a))

where SV(A, b) is the variance of the unit caused by source A with source
B held at b. So **RSV = +1: the unit responds only to sensor a** (the
left / first view), **-1: only to sensor b**, 0: equally to both. The
paper's figures are drawn with the opposite sign (its code plots -Eq. 5);
:func:`cpkit.reference.rsv_histogram` flips digitized paper histograms into
this convention.
"""

from __future__ import annotations

import numpy as np

#: the paper's histogram bins (39 bins on [-1.15, 1.15])
PAPER_BIN_EDGES = np.linspace(-1.15, 1.15, 40)


def relative_source_variance(sv_a: np.ndarray, sv_b: np.ndarray) -> np.ndarray:
    """RSV from SV(A, b) (variance due to a) and SV(B, a) (due to b).

    Units with zero variance to both sources are NaN (no sensitivity to
    measure); callers decide whether to drop or count them.
    """
    sv_a = np.asarray(sv_a, dtype=float)
    sv_b = np.asarray(sv_b, dtype=float)
    scale = max(
        float(np.nanmax(np.abs(sv_a), initial=0.0)),
        float(np.nanmax(np.abs(sv_b), initial=0.0)),
    )
    if np.any(sv_a < -1e-9 * scale) or np.any(sv_b < -1e-9 * scale):
        raise ValueError("source variances must be >= 0")
    sv_a, sv_b = np.maximum(sv_a, 0.0), np.maximum(sv_b, 0.0)
    total = sv_a + sv_b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (sv_a - sv_b) / total, np.nan)


def rsv_from_grid(values: np.ndarray) -> np.ndarray:
    """RSV of every unit from responses on a grid of source pairs.

    ``values``: (n, n, ...) with ``values[i, j]`` the response to a_i
    paired with b_j. For conditioning index j, SV(A, b_j) is the
    population variance over i of values[i, j] and SV(B, a_j) the one over
    k of values[j, k]: the pair (a_j, b_j) is held fixed in turn, as the
    paper's estimator does with the views of one test image.
    Returns (n, ...): one RSV per conditioning pair and unit.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim < 2 or values.shape[0] != values.shape[1]:
        raise ValueError(
            f"values must have shape (n, n, ...), got {values.shape}"
        )
    sv_a = values.var(axis=0)  # vary a, b_j fixed -> index j
    sv_b = values.var(axis=1)  # vary b, a_j fixed -> index j
    return relative_source_variance(sv_a, sv_b)


def histogram(
    rsv: np.ndarray, edges: np.ndarray = PAPER_BIN_EDGES
) -> tuple[np.ndarray, int]:
    """Fractions of finite RSV values per bin, and the count of NaNs."""
    rsv = np.asarray(rsv, dtype=float).ravel()
    finite = rsv[np.isfinite(rsv)]
    counts, _ = np.histogram(finite, bins=edges)
    fractions = counts / max(len(finite), 1)
    return fractions, int(len(rsv) - len(finite))
