"""The paper's numbers, read off its vector figures, for overlays and tests.

Source: ``cpkit/data/paper_digitized.json`` (about +-0.01 axis units).
RSV histograms there are in the paper's plotted sign (-1 = left view a);
:func:`rsv_histogram` returns them in cpkit's sign (+1 = view a).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from cpkit.errors import ConfigError


@lru_cache(maxsize=1)
def digitized() -> dict:
    """The whole digitized record (read once)."""
    text = resources.files("cpkit").joinpath("data/paper_digitized.json")
    return json.loads(text.read_text())


def rsv_histogram(figure: str, panel: str) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, fractions) of a paper RSV panel, in cpkit's sign."""
    table = digitized()["rsv_hist_fractions"]
    if figure not in table or panel not in table[figure]:
        raise ConfigError(
            f"no digitized RSV panel {figure!r} / {panel!r}; figures: "
            f"{', '.join(table)}"
        )
    centres = -np.asarray(digitized()["rsv_hist_bin_centers"])[::-1]
    fractions = np.asarray(table[figure][panel])[::-1]
    return centres, fractions


def accuracy_curve(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(deficit-removal epoch k, test accuracy %) of a paper curve."""
    table = digitized()["accuracy_vs_deficit_removal"]
    if name not in table:
        raise ConfigError(
            f"no digitized accuracy curve {name!r}; curves: {', '.join(table)}"
        )
    return np.asarray(table[name]["k"]), np.asarray(table[name]["acc"])


#: Fig. 2 reference values, from re-running the published closed-form
#: script (a0 = 1e-4, time grid 0..10 in 1000 steps; "step" = grid index):
#: when the weight task 5 <- sensor 8 first reaches 0.5.
FIG2_CROSSING_STEP = {
    ("deep", "all sensors"): 248,
    ("deep", "sensor 3 dropped"): 461,
    ("shallow", "all sensors"): 70,
    ("shallow", "sensor 3 dropped"): 70,
}


#: Fig. 9 (blur with random view zeroing, p = 0.1): per resumed run k,
#: test accuracy (%) and the usable information (bits) at its last logged
#: point of both views, view a alone (clean) and view b alone (blurred).
FIG9_USABLE_INFORMATION = {
    0: (94.00, 2.92, 2.59, 2.66),
    20: (94.38, 3.00, 2.71, 2.66),
    40: (93.83, 2.96, 2.70, 2.61),
    60: (93.53, 2.94, 2.69, 2.54),
    120: (92.59, 2.86, 2.66, 2.31),
    180: (92.18, 2.83, 2.66, 2.18),
}
