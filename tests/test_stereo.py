"""Stereo experiments: models, views, training loop, protocols, metrics."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from cpkit import ConfigError
from cpkit.deficits import DeficitWindow
from cpkit.metrics.network import network_rsv, usable_information
from cpkit.models import SplitResNet18, TwoPathwayAllCNN, TwoViewNet
from cpkit.protocols import (
    DataSpec,
    MeasureConfig,
    ModelSpec,
    Runner,
    RunStore,
)
from cpkit.training import TrainConfig, TrainLog, train
from cpkit.twoview import TwoViewData, load_two_view, make_views

QUICK = TrainConfig(lr0=0.05, decay=0.7, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    return load_two_view("digits", n_train=400, n_test=200)


def test_split_resnet18_matches_the_paper():
    # parameter counts of the released SResNet18 and its multi-head form
    assert sum(p.numel() for p in SplitResNet18().parameters()) == 11_846_282
    multi = SplitResNet18(heads="multi")
    assert sum(p.numel() for p in multi.parameters()) == 11_856_542
    x = torch.randn(2, 3, 32, 32)
    assert multi.units(x, x).shape == (2, 512, 4, 4)  # layer4, not pooled
    assert multi.pathway_a(x).shape == (2, 128, 16, 16)  # up to conv3_x
    assert {h: multi(x, x, head=h).shape for h in "ab"} == {
        "a": (2, 10),
        "b": (2, 10),
    }
    with pytest.raises(ConfigError, match="head = 'c'"):
        multi(x, x, head="c")


def test_allcnn_depth_is_honoured():
    x = torch.randn(2, 3, 32, 32)
    shapes = [
        TwoPathwayAllCNN(n, width=1 / 8).units(x, x).shape for n in (1, 2, 3)
    ]
    assert shapes == [(2, 24, 16, 16), (2, 48, 8, 8), (2, 96, 4, 4)]
    with pytest.raises(ConfigError, match="n_blocks = 0"):
        TwoPathwayAllCNN(0)


def test_pathways_are_separate_until_the_sum():
    net = SplitResNet18(1, 10, width=1 / 16).eval()
    x_a, x_b = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16)
    p_a, p_b = net.pathways(x_a, x_b)
    p_a2, _ = net.pathways(x_a, torch.randn(2, 1, 16, 16))
    assert torch.equal(p_a, p_a2)  # view b never reaches pathway a
    assert torch.allclose(net.units(x_a, x_b), net.units_from_fused(p_a + p_b))


def test_views_leak_nothing_across_sides():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = torch.arange(4)
    for deficit in ("none", "blur"):
        x_a, x_b, _, _ = make_views(x, y, 6, deficit, gen)
        x2 = x.clone()
        x2[..., :10] = torch.randn_like(x2[..., :10])  # what b must not see
        _, x_b2, _, _ = make_views(x2, y, 6, "none", gen)
        assert torch.all(x_a[..., 6:] == 0) and torch.all(x_b[..., :10] == 0)
        if deficit == "none":
            assert torch.equal(x_b, x_b2)
            assert torch.equal(x_a[..., :6], x[..., :6])
    # blur: view a untouched, view b smoother than the clean view b
    _, clean_b, _, _ = make_views(x, y, 6, "none", gen)
    blur_a, blur_b, _, _ = make_views(x, y, 6, "blur", gen)
    assert torch.equal(blur_a[..., :6], x[..., :6])
    rough = (clean_b[..., 11:].diff(dim=-1)).abs().mean()
    assert (blur_b[..., 11:].diff(dim=-1)).abs().mean() < 0.5 * rough
    # view_size edge cases: the whole frame, one column
    full_a, full_b, _, _ = make_views(x, y, 16, "none", gen)
    assert torch.equal(full_a, x) and torch.equal(full_b, x)
    one_a, one_b, _, _ = make_views(x, y, 1, "none", gen)
    assert torch.count_nonzero(one_a[..., 1:]) == 0
    assert torch.count_nonzero(one_b[..., :15]) == 0


def test_bad_data_requests_fail_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="view_size = 9 is wider"):
        load_two_view("digits", view_size=9)
    with pytest.raises(ConfigError, match="source = 'svhn'"):
        load_two_view("svhn")
    with pytest.raises(ConfigError, match="needs cifar_path"):
        load_two_view("cifar10")
    with pytest.raises(ConfigError, match="CIFAR-10 not found"):
        load_two_view("cifar10", cifar_path=tmp_path)
    with pytest.raises(ConfigError, match="exceeds the 1797 images"):
        load_two_view("digits", n_train=1700, n_test=200)


def test_digits_split_is_disjoint_and_normalised(digits):
    assert digits.x_train.shape == (400, 1, 8, 8)
    assert digits.view_size == 4 and digits.pad == 1 and not digits.flip
    assert abs(digits.x_train.mean().item()) < 1e-4
    flat_tr = {tuple(r) for r in digits.x_train.flatten(1).tolist()}
    flat_te = [tuple(r) for r in digits.x_test.flatten(1).tolist()]
    assert sum(r in flat_tr for r in flat_te) < 5  # duplicates only


def test_lr_follows_the_absolute_epoch_or_restarts():
    cfg = TrainConfig(lr0=0.1, decay=0.5)
    assert cfg.lr(3) == pytest.approx(0.0125)
    assert cfg.lr(3, restart_at=2) == pytest.approx(0.05)
    assert TrainConfig(lr0=0.1, lr_mode="constant").lr(7) == 0.1
    with pytest.raises(ConfigError, match="lr_mode = 'cyclic'"):
        TrainConfig(lr_mode="cyclic")


def test_last_five_average():
    log = TrainLog(test_acc=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    assert log.last_mean() == 50.0
    assert log.last_mean(2) == 65.0
    with pytest.raises(ConfigError, match="fewer than the 8"):
        log.last_mean(8)


def _weights_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_k_holds_exactly_k_deficit_epochs(digits):
    def fresh():
        torch.manual_seed(0)
        return SplitResNet18(1, 10, width=1 / 16)

    init = {k: v.clone() for k, v in fresh().state_dict().items()}
    window = DeficitWindow("blur", 0, 3, 3)
    model = fresh()
    log, saved = train(
        model,
        digits,
        QUICK,
        range(0, 3),
        torch.Generator().manual_seed(1),
        deficit=window,
        checkpoints=(0, 2, 3),
    )
    assert sorted(saved) == [0, 2, 3] and log.deficit == [True] * 3
    assert _weights_equal(saved[0], init)
    assert _weights_equal(saved[3], model.state_dict())
    # checkpoint 2 = a run stopped after its 2 deficit epochs
    two = fresh()
    train(
        two,
        digits,
        QUICK,
        range(0, 2),
        torch.Generator().manual_seed(1),
        deficit=DeficitWindow("blur", 0, 2, 2),
    )
    with pytest.raises(ConfigError, match=r"\[0, 3\) is not inside"):
        train(
            fresh(),
            digits,
            QUICK,
            range(0, 2),
            torch.Generator(),
            deficit=window,
        )
    assert _weights_equal(saved[2], two.state_dict())
    with pytest.raises(ConfigError, match=r"checkpoints \[5\] are outside"):
        train(
            fresh(),
            digits,
            QUICK,
            range(0, 3),
            torch.Generator(),
            checkpoints=(5,),
        )


def test_dissociation_needs_single_view_heads(digits):
    net = SplitResNet18(1, 10, width=1 / 16)
    with pytest.raises(ConfigError, match="needs a model with heads"):
        train(
            net,
            digits,
            QUICK,
            range(0, 1),
            torch.Generator(),
            deficit=DeficitWindow("dissociation", 0, 1, 1),
        )


class _KnownUnits(TwoViewNet):
    """Units: sum of view a, sum of view b, and a + b (RSV +1, -1, ~0)."""

    def __init__(self):
        super().__init__()
        self.pathway_a = nn.Conv2d(1, 3, 8, bias=False)
        self.pathway_b = nn.Conv2d(1, 3, 8, bias=False)
        with torch.no_grad():
            self.pathway_a.weight.zero_()
            self.pathway_b.weight.zero_()
            self.pathway_a.weight[[0, 2]] = 1.0
            self.pathway_b.weight[[1, 2]] = 1.0
        self.trunk = nn.Identity()
        self._make_heads(3, 10, "single")


def test_network_rsv_on_units_with_known_answers():
    gen = np.random.default_rng(0)
    images = torch.from_numpy(gen.normal(size=(300, 1, 8, 8))).float()
    labels = torch.zeros(300, dtype=torch.long)
    data = TwoViewData("noise", images, labels, images, labels, 4, 1, False)
    rsv = network_rsv(_KnownUnits(), data, n_conditioning=20)
    assert rsv.shape == (20, 3)
    assert np.allclose(rsv[:, 0], 1.0) and np.allclose(rsv[:, 1], -1.0)
    assert abs(rsv[:, 2].mean()) < 0.2  # equal statistics on both sides


def test_usable_information_in_bits():
    assert usable_information(0.0) == pytest.approx(math.log2(10))
    assert usable_information(math.log(10)) == pytest.approx(0.0)


def _runner(tmp_path, **kw):
    return Runner(
        ModelSpec("sresnet18", 1 / 16, **kw),
        DataSpec("digits", n_train=400, n_test=200),
        QUICK,
        store=RunStore(tmp_path),
        measure=MeasureConfig(n_conditioning=10, probe=False),
    )


def test_removal_sweep_bookkeeping_and_reuse(tmp_path, monkeypatch):
    runner = _runner(tmp_path)
    rows = runner.removal_sweep(0, "blur", [0, 2], clean_epochs=5)
    assert [r["k"] for r in rows] == [0, 2]
    assert rows[1]["epochs"] == [3, 4, 5, 6, 7]  # k+1 .. k+clean
    assert rows[0]["acc"] == pytest.approx(np.mean(rows[0]["curve"]))
    sham = runner.removal_sweep(0, "none", [0, 2], clean_epochs=5)
    assert sham[0]["curve"] == rows[0]["curve"]  # k = 0 shared
    restart = runner.removal_sweep(
        0, "blur", [0, 2], clean_epochs=5, branch_lr="restart"
    )
    assert restart[0]["curve"] == rows[0]["curve"]
    # nothing is recomputed: a fresh runner on the same store never trains
    again = _runner(tmp_path)
    monkeypatch.setattr(
        "cpkit.protocols.train",
        lambda *a, **k: pytest.fail("a finished run was recomputed"),
    )
    assert again.removal_sweep(0, "blur", [0, 2], 5) == rows
    with pytest.raises(ConfigError, match="deficit = 'noise'"):
        again.removal_sweep(0, "noise", [0, 2], 5)


def test_training_learns_digits(tmp_path):
    runner = _runner(tmp_path)
    record = runner.run(0, range(0, 6))
    log = TrainLog(**record["log"])
    assert log.test_acc[-1] > 70.0  # chance is 10 %
    assert log.lr == pytest.approx([0.05 * 0.7**e for e in range(6)])


@pytest.mark.parametrize("variant", ["code", "paper"])
def test_dissociation_trains_the_view_heads_only(digits, variant):
    torch.manual_seed(0)
    net = SplitResNet18(1, 10, width=1 / 16, heads="multi")
    before = {n: h.weight.clone() for n, h in net.heads.items()}
    cfg = TrainConfig(lr0=0.05, decay=0.7, dissociation_loss=variant)
    log, _ = train(
        net,
        digits,
        cfg,
        range(0, 1),
        torch.Generator().manual_seed(0),
        deficit=DeficitWindow("dissociation", 0, 1, 1),
    )
    assert log.deficit == [True]
    assert torch.equal(net.heads["both"].weight, before["both"])
    for name in "ab":  # each single-view head got gradient steps
        assert not torch.equal(net.heads[name].weight, before[name])


def test_fused_head_can_start_as_the_mean_of_view_heads():
    from cpkit.protocols import _heads_to_mean

    net = SplitResNet18(1, 10, width=1 / 16, heads="multi")
    _heads_to_mean(net)
    mean = (net.heads["a"].weight + net.heads["b"].weight) / 2
    assert torch.equal(net.heads["both"].weight, mean)
    with pytest.raises(ConfigError, match="needs heads = 'multi'"):
        _heads_to_mean(SplitResNet18(1, 10, width=1 / 16))


def _rows(protocol, accs_by_k, rsv=0.0):
    return [
        {
            "protocol": protocol,
            "seed": s,
            "k": k,
            "acc": acc,
            "rsv_mean": rsv * k,
        }
        for k, accs in accs_by_k.items()
        for s, acc in enumerate(accs)
    ]


def test_removal_study_pairs_by_seed_and_subtracts_the_sham():
    from cpkit.removal_report import RemovalStudy, beyond_noise

    rows = _rows("blur", {0: [90.0, 80.0, 85.0], 8: [87.0, 76.0, 82.5]}, 0.1)
    rows += _rows("sham", {0: [90.0, 80.0, 85.0], 8: [89.0, 79.5, 84.0]})
    study = RemovalStudy(rows, main_epochs=8)
    # drops are paired per seed, so the seed offsets cancel
    assert study.paired_drop("blur", 8).tolist() == [3.0, 4.0, 2.5]
    assert study.paired_drop("blur", 8, minus="sham").tolist() == [
        2.0,
        3.5,
        1.5,
    ]
    assert study.gap("blur", "sham", "rsv_mean").tolist() == [0.8] * 3
    text, remaining, _ = study.controls_summary("blur", "blur", "sham")
    assert remaining == pytest.approx(7.0 / 3)
    assert "a drop that the controls do not explain" in text
    assert beyond_noise([0.1, -0.1, 0.05]) is False
    assert beyond_noise([1.0]) is None
    with pytest.raises(ConfigError, match="protocol 'none' is not one of"):
        study.select("none")


def test_sweeps_share_main_runs_and_k0_branches(tmp_path, monkeypatch):
    import cpkit.protocols as protocols
    from cpkit.removal_report import Protocol, RemovalStudy

    calls = []
    real_train = protocols.train

    def counting(model, data, config, epochs, *args, **kw):
        calls.append((epochs.start, epochs.stop))
        return real_train(model, data, config, epochs, *args, **kw)

    monkeypatch.setattr(protocols, "train", counting)
    study = RemovalStudy.run(
        _runner(tmp_path),
        {
            "absolute": Protocol("blur", (0, 1, 2)),
            "restart": Protocol("blur", (0, 2), "restart"),
        },
        seeds=[0],
        clean_epochs=5,
        log=lambda *_: None,
    )
    # one main run, k = 0 shared: branches at 1 and 2, restarted one at 2
    assert sorted(calls) == [(0, 2), (1, 6), (2, 7), (3, 8), (3, 8)]
    assert study.ks("restart") == [0, 2]


def test_unreadable_stored_run_names_the_file(tmp_path):
    store = RunStore(tmp_path)
    (tmp_path / "abc.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="abc.pt cannot be read"):
        store.get("abc")
    store.put("def", {"x": torch.ones(2)})
    assert torch.equal(RunStore(tmp_path).get("def")["x"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.pt", "def.pt"]


def test_cifar_path_is_never_ignored(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="cifar_path is set but source"):
        load_two_view("digits", cifar_path=tmp_path)
    monkeypatch.setenv("CPKIT_CIFAR10", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(ConfigError, match="missing.tar.gz does not exist"):
        load_two_view("cifar10")


def test_cli_path_parameters_are_absolute_text(tmp_path, monkeypatch):
    from cpkit.cli import parse_value

    monkeypatch.chdir(tmp_path)
    assert parse_value("runs #2", "results_dir") == str(tmp_path / "runs #2")
    assert parse_value("3", "seeds") == 3
    with pytest.raises(ConfigError, match="not a value"):
        parse_value("*x", "source")


def test_paper_rsv_means_per_crop_width():
    # paper-spec Figs. 10-12: RSV means at N = 0 and 180, in the paper's
    # sign (-1 = clean view a); cpkit's sign is the opposite
    from cpkit.removal_report import paper_mean_rsv

    for figure, start, end in (
        ("Fig10 (w=16; same run as Fig4)", 0.06, -0.64),
        ("Fig11 (w=14)", -0.11, -0.67),
        ("Fig12 (w=18)", -0.06, -0.79),
    ):
        assert paper_mean_rsv(figure, "Blur0epoch") == pytest.approx(
            -start, abs=0.02
        )
        assert paper_mean_rsv(figure, "Blur180epoch") == pytest.approx(
            -end, abs=0.02
        )


@pytest.mark.parametrize(
    "options",
    [{"precision": "bf16"}, {"compile": True}],
    ids=["bf16", "compiled"],
)
def test_fast_paths_train_like_the_plain_loop(digits, options):
    """bf16 autocast and torch.compile (on this CPU) change the numbers
    only by rounding: the same batches give nearly the same losses."""
    logs = []
    for config in (QUICK, TrainConfig(**{**QUICK.__dict__, **options})):
        torch.manual_seed(0)
        model = SplitResNet18(1, 10, width=1 / 16)
        generator = torch.Generator().manual_seed(0)
        log, _ = train(model, digits, config, range(0, 6), generator)
        logs.append(log)
    plain, fast = logs
    assert fast.train_loss == pytest.approx(plain.train_loss, rel=0.05)
    assert plain.test_acc[-1] > 70.0  # learned: chance is 10 %
    assert fast.test_acc[-1] == pytest.approx(plain.test_acc[-1], abs=5.0)
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp16")
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig(compile="yes")
