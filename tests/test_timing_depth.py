"""Sliding windows and the depth experiment: bookkeeping and reports."""

import re

import numpy as np
import pytest
import torch

import cpkit.protocols as protocols
from cpkit import ConfigError
from cpkit.deficits import DeficitWindow
from cpkit.models import TwoPathwayAllCNN
from cpkit.profiles import get_profile
from cpkit.protocols import (
    DataSpec,
    MeasureConfig,
    ModelSpec,
    Runner,
    RunStore,
)
from cpkit.training import TrainConfig
from cpkit.twoview import load_two_view

CONSTANT = TrainConfig(lr0=0.02, lr_mode="constant", batch_size=64)


def _runner(tmp_path, heads="multi"):
    return Runner(
        ModelSpec("sresnet18", 1 / 16, heads),
        DataSpec("digits", n_train=300, n_test=150),
        CONSTANT,
        store=RunStore(tmp_path),
        measure=MeasureConfig(n_conditioning=10, probe=False),
    )


def _fingerprint(model):
    return float(sum(p.detach().double().sum() for p in model.parameters()))


def test_window_sweep_pairs_each_window_with_a_sham(tmp_path, monkeypatch):
    calls = []
    real_train = protocols.train

    def spy(model, data, config, epochs, generator, deficit=None, **kw):
        calls.append(
            {
                "span": (epochs.start, epochs.stop),
                "window": (deficit.kind, deficit.onset, deficit.length),
                "start": _fingerprint(model),
            }
        )
        return real_train(
            model, data, config, epochs, generator, deficit, **kw
        )

    monkeypatch.setattr(protocols, "train", spy)
    runner = _runner(tmp_path)
    rows = runner.window_sweep(0, "dissociation", [3, 0], 1, 5)
    assert [r["onset"] for r in rows] == [0, 3]
    # base run without deficit up to the last onset, then window and sham
    base_call, *branches = calls
    assert base_call["span"] == (0, 3) and base_call["window"][0] == "none"
    assert [(c["span"], c["window"]) for c in branches] == [
        ((0, 6), ("dissociation", 0, 1)),
        ((0, 6), ("none", 0, 0)),
        ((3, 9), ("dissociation", 3, 1)),
        ((3, 9), ("none", 0, 0)),
    ]
    # onset 0 starts from the initialisation, onset 3 from the base run's
    # checkpoint 3 (its weights after 3 epochs), window and sham alike
    base = runner.run(0, range(0, 3), checkpoints=[3])
    at_3 = runner.new_model(0)
    at_3.load_state_dict(base["checkpoints"][3])
    assert branches[0]["start"] == branches[1]["start"] == base_call["start"]
    assert branches[2]["start"] == branches[3]["start"] == _fingerprint(at_3)
    assert _fingerprint(at_3) != base_call["start"]
    for r in rows:
        assert len(r["curve"]) == 6 and len(r["sham_curve"]) == 6
        assert r["epochs"][0] == r["onset"]
        assert r["sham_acc"] == pytest.approx(np.mean(r["sham_curve"][-5:]))
        assert r["drop"] == pytest.approx(r["sham_acc"] - r["acc"])
    # a finished sweep is read back, not retrained
    calls.clear()
    again = _runner(tmp_path).window_sweep(0, "dissociation", [0, 3], 1, 5)
    assert again == rows and calls == []


@pytest.mark.parametrize("deficit", ["dissociation", "blur"])
def test_window_and_sham_see_the_same_batches(deficit, monkeypatch):
    # the deficit's own random draws must not shift the data stream
    import cpkit.training as training

    data = load_two_view("digits", n_train=128, n_test=64)
    seen = {}

    real = training.make_views

    def record(name):
        def spy(x, y, *args, **kw):
            seen[name].append(x.clone())
            return real(x, y, *args, **kw)

        return spy

    for name, window in (
        ("window", DeficitWindow(deficit, 0, 1, 3)),
        ("sham", DeficitWindow()),
    ):
        seen[name] = []
        monkeypatch.setattr(training, "make_views", record(name))
        torch.manual_seed(0)
        model = TwoPathwayAllCNN(1, 1, 10, 1 / 16, heads="multi")
        training.train(
            model,
            data,
            CONSTANT,
            range(0, 3),
            torch.Generator().manual_seed(7),
            deficit=window,
        )
    # 3 epochs x (2 training batches + 1 test batch)
    assert len(seen["window"]) == len(seen["sham"]) == 9
    for a, b in zip(seen["window"], seen["sham"], strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("noise", [0], 1, 5), "deficit = 'noise'"),
        (("blur", [], 1, 5), "window onsets are empty"),
        (("blur", [0], 0, 5), "window length = 0 must be >= 1"),
        (("blur", [0], 1, 2), "recovery epochs = 2 must be >= 5"),
        (("blur", [-1], 1, 5), "window onset = -1 must be >= 0"),
    ],
)
def test_window_sweep_rejects_bad_requests(tmp_path, args, message):
    with pytest.raises(ConfigError, match=message):
        _runner(tmp_path).window_sweep(0, *args)


def test_dissociation_windows_need_view_heads(tmp_path):
    with pytest.raises(ConfigError, match="needs a model with heads"):
        _runner(tmp_path, heads="single").window_sweep(
            0, "dissociation", [0], 1, 5
        )


def _window_rows(schedule, drops_by_onset, sham=80.0):
    return [
        {
            "schedule": schedule,
            "seed": s,
            "onset": onset,
            "acc": sham - d,
            "sham_acc": sham,
            "drop": d,
            "acc_a": 50.0,
            "acc_b": 40.0,
            "rsv_abs_mean": 0.3,
            "curve": [sham - d] * 6,
            "sham_curve": [sham] * 6,
            "epochs": list(range(onset, onset + 6)),
        }
        for onset, drops in drops_by_onset.items()
        for s, d in enumerate(drops)
    ]


def test_window_study_compares_early_and_late_windows():
    from cpkit.timing_report import WindowStudy

    rows = _window_rows("constant", {0: [5.0, 6.0, 7.0], 6: [1.0, 1.5, 1.0]})
    rows += _window_rows("flat", {0: [1.0, -1.0, 0.5], 6: [0.5, 0.0, 1.0]})
    study = WindowStudy(rows, "dissociation", 1, 5)
    assert study.onsets == [0, 6]
    assert study.early_minus_late("constant").tolist() == [4.0, 4.5, 6.0]
    text = study.summary()
    assert (
        "early minus late, paired by seed: **+4.83 ± 1.04** (beyond 2 SE)"
        in text
    )
    assert "(within 2 SE)" in text  # the flat schedule
    row = "| constant | 6 | 78.83 ± 0.29 | 80.00 ± 0.00 | +1.17 ± 0.29"
    assert row in (study.table())
    fig = study.curve_slider("constant")
    assert [f.name for f in fig.frames] == ["0", "6"]
    assert len(study.drop_figure("t").data) == 4  # two ours, two paper's
    with pytest.raises(ConfigError, match="schedule 'decay' is not one of"):
        study.select("decay")


def test_depth_study_on_tiny_runs(tmp_path, monkeypatch):
    from cpkit.timing_report import DepthStudy

    runners = {
        n: Runner(
            ModelSpec("allcnn", 1 / 16, "single", n),
            DataSpec("digits", n_train=200, n_test=100),
            CONSTANT,
            store=RunStore(tmp_path),
            measure=MeasureConfig(n_conditioning=10, probe=False),
        )
        for n in (1, 2)
    }
    trained = []
    real_train = protocols.train
    monkeypatch.setattr(
        protocols,
        "train",
        lambda *a, **k: trained.append(1) or real_train(*a, **k),
    )
    study = DepthStudy.run(runners, [0, 2], 5, [0, 1])
    # per depth and seed: blur main run, its k = 0 and k = 2 branches, the
    # sham main run and its k = 2 branch; the k = 0 branch is shared
    assert len(trained) == 2 * 2 * 5
    assert study.depths == [1, 2] and study.E == 2
    assert study.parameters[1] < study.parameters[2]
    for n in (1, 2):
        s = study.studies[n]
        assert s.values("blur", 0, "acc") == s.values("sham", 0, "acc")
        # with a shared k = 0, what survives is sham minus blur at k = 2
        expected = np.subtract(
            s.values("sham", 2, "acc"), s.values("blur", 2, "acc")
        )
        assert study.remaining(n) == pytest.approx(expected)
    table = study.table()
    assert table.count("\n") == 3 and "| 2 | " in table
    diff, _ = study.trend()
    assert diff == pytest.approx(study.remaining(2) - study.remaining(1))
    assert len(study.figure("t").data) == 4  # ours and the paper's, n = 1, 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_deficit": "noise"}, "window_deficit = 'noise'"),
        ({"window_onsets": ()}, "window_onsets = () must be a non-empty"),
        ({"window_recovery": 3}, "window_recovery = 3 must be >= 5"),
        ({"window_schedules": ("cosine",)}, "window_schedules = 'cosine'"),
        ({"depth_blocks": (0, 1)}, "depth_blocks = 0 must be >= 1"),
        ({"depth_removal_epochs": (0,)}, "must include 0 and a k > 0"),
        ({"depth_lr": -1.0}, "depth_lr"),
        (
            {"heads": "single", "both_head": "as_trained"},
            "window_deficit = 'dissociation' needs",
        ),
    ],
)
def test_timing_profile_rejects_bad_values(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_profile("stereo_timing_depth", "quick", **overrides)


def test_timing_profile_schedules():
    quick = get_profile("stereo_timing_depth", "quick")
    assert list(quick.window_configs()) == ["constant LR 0.01"]
    full = get_profile("stereo_timing_depth", "full")
    configs = full.window_configs()
    assert [c.lr_mode for c in configs.values()] == ["decay", "constant"]
    runner_config = quick.depth_runner(2, "cpu").config
    assert runner_config.lr_mode == "constant"
    assert runner_config.lr0 == quick.depth_lr


def test_fig9_information_table_agrees_with_the_digitized_curve():
    from cpkit.reference import FIG9_USABLE_INFORMATION, accuracy_curve

    ks, acc = accuracy_curve("fig9_blur_randzero")
    by_k = dict(zip(ks.tolist(), acc.tolist(), strict=True))
    for k, (accuracy, *_bits) in FIG9_USABLE_INFORMATION.items():
        assert by_k[k] == pytest.approx(accuracy)
