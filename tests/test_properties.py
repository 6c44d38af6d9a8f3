"""Property tests: validation accepts exactly the valid configurations.

Each field gets an independent statement of what is valid (the oracle);
hypothesis draws values that are valid, nearly valid or of the wrong
type. A configuration must be built when every field is valid, and must
otherwise fail with a one-line ConfigError, never another exception.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import ConfigError
from cpkit.profiles import get_profile
from cpkit.training import TrainConfig

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400)]),  # beyond any float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


def _real(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _int(v, minimum):
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _bool(v):
    return isinstance(v, bool)


def _choice(*options):
    return lambda v: isinstance(v, str) and v in options


def _positive(v):
    return _real(v) and v > 0


def _range(low, high, high_open=False):
    def check(v):
        if not _real(v) or v < low:
            return False
        return v < high if high_open else v <= high

    return check


def _numbers(low, high):
    return st.one_of(
        st.floats(low, high),
        st.integers(int(low) - 2, int(high) + 2),
        st.sampled_from([low, high, -0.0, 1e-12]),
    )


#: field: (oracle, strategy of plausible values)
TRAIN_FIELDS = {
    "lr0": (_positive, _numbers(-1.0, 1.0)),
    "decay": (lambda v: _real(v) and 0 < v <= 1, _numbers(-0.5, 1.5)),
    "lr_mode": (
        _choice("decay", "constant"),
        st.sampled_from(["decay", "constant", "cosine", "Decay"]),
    ),
    "momentum": (_range(0, 1, high_open=True), _numbers(-0.5, 1.5)),
    "weight_decay": (_range(0, math.inf), _numbers(-1.0, 1.0)),
    "batch_size": (lambda v: _int(v, 1), st.integers(-3, 300)),
    "augment": (_bool, st.booleans()),
    "rand_zero": (_range(0, 0.5), _numbers(-0.2, 0.8)),
    "dissociation_loss": (
        _choice("code", "paper"),
        st.sampled_from(["code", "paper", "both"]),
    ),
    "bn_dry_run": (_bool, st.booleans()),
    "eval_batch": (lambda v: _int(v, 1), st.integers(-3, 1000)),
}

PROFILE_FIELDS = {
    "seeds": (lambda v: _int(v, 1), st.integers(-2, 6)),
    "window_length": (lambda v: _int(v, 1), st.integers(-2, 6)),
    "window_recovery": (lambda v: _int(v, 5), st.integers(0, 12)),
    "clean_epochs": (lambda v: _int(v, 5), st.integers(0, 12)),
    "n_conditioning": (lambda v: _int(v, 2), st.integers(-1, 60)),
    "batch_size": (lambda v: _int(v, 1), st.integers(-3, 300)),
    "lr0": (_positive, _numbers(-1.0, 1.0)),
    "constant_lr": (_positive, _numbers(-1.0, 1.0)),
    "depth_lr": (_positive, _numbers(-1.0, 1.0)),
    "depth_width": (_positive, _numbers(-1.0, 2.0)),
    "weight_decay": (_range(0, math.inf), _numbers(-1.0, 1.0)),
    "window_deficit": (
        _choice("blur", "dissociation"),
        st.sampled_from(["blur", "dissociation", "noise"]),
    ),
    "augment": (_bool, st.booleans()),
}


def _draws(fields):
    return st.fixed_dictionaries(
        {
            name: st.one_of(plausible, ANYTHING)
            for name, (_, plausible) in fields.items()
        }
    )


def _check(build, fields, values):
    valid = all(fields[name][0](v) for name, v in values.items())
    if valid:
        build(values)  # must not raise
        return
    with pytest.raises(ConfigError) as err:
        build(values)
    assert "\n" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(_draws(TRAIN_FIELDS))
def test_train_config_accepts_exactly_the_valid(values):
    _check(lambda v: TrainConfig(**v), TRAIN_FIELDS, values)


@settings(max_examples=150, deadline=None)
@given(_draws(PROFILE_FIELDS))
def test_timing_profile_accepts_exactly_the_valid(values):
    # None means "the profile's value" for an override, so leave it out
    values = {k: v for k, v in values.items() if v is not None}
    _check(
        lambda v: get_profile("stereo_timing_depth", "quick", **v),
        PROFILE_FIELDS,
        values,
    )
