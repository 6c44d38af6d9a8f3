"""Benchmark machinery: side-by-side timing, FLOPs, stored records, the
paper-style baseline pipeline and the GPU check script (run tiny)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from cpkit import ConfigError, bench
from cpkit.baseline import PaperStyleViews, loader, paper_style_epoch
from cpkit.cli import main
from cpkit.models import SplitResNet18
from cpkit.twoview import CIFAR10_MEAN, CIFAR10_STD

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def _script(name: str, *flags: str, timeout: int = 120):
    """Run ``benchmarks/<name>.py`` with ``flags``; its completed process."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _performance_page(benchmarks: Path, pages: Path) -> str:
    """The performance page run on ``benchmarks``; its Markdown output."""
    code = main(
        [
            "notebooks",
            *("--only", "performance", "--device", "cpu"),
            *("--output-dir", str(pages)),
            *("-p", "benchmarks_dir", str(benchmarks)),
        ]
    )
    assert code == 0
    page = nbformat.read(pages / "performance.ipynb", as_version=4)
    return "".join(
        "".join(o.get("data", {}).get("text/markdown", ""))
        for c in page.cells
        for o in c.get("outputs", [])
    )


def test_alternate_calls_each_contender_every_round_in_turn():
    calls = []
    seconds = bench.alternate(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        3,
        CPU,
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())
    with pytest.raises(ConfigError, match="rounds"):
        bench.alternate({"a": lambda: None}, 0, CPU)


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.head = torch.nn.Linear(2 * 4 * 4, 3)

    def forward(self, x_a, x_b):
        return self.head(self.conv(x_a + x_b).flatten(1))


def test_forward_flops_counts_convolutions_and_linear_layers():
    # conv: 2 outputs x 16 positions, each 1 x 3 x 3 MACs; linear 32 x 3
    expected = 2 * (2 * 16 * 9) + 2 * (32 * 3)
    assert bench.forward_flops(_Tiny(), (1, 4, 4)) == expected
    # the paper's network at 32 px, by hand: each stem about 0.57 GFLOP
    # (layer1 at 32 px, layer2 at 16 px), layer3 and layer4 about 0.27
    # each: 1.68 GFLOP in all
    flops = bench.forward_flops(SplitResNet18(3, 10, 1.0), (3, 32, 32))
    assert 1.6e9 < flops < 1.75e9


def test_step_rate_measures_training_and_inference():
    model = SplitResNet18(1, 10, width=1 / 16)
    before = [p.detach().clone() for p in model.parameters()]
    rate = bench.step_rate(model, (1, 8, 8), CPU, batch=16, steps=1)
    assert rate > 0
    after = list(model.parameters())
    moved = any(
        not torch.equal(a, p) for a, p in zip(before, after, strict=True)
    )
    assert moved, "training steps left every weight unchanged"
    assert bench.step_rate(model, (1, 8, 8), CPU, 16, 1, train=False) > 0


def test_save_and_load_all_round_trip(tmp_path):
    results = {"runs": 4, "depth": 3, "post_steps": 10}
    out = bench.target("batched_sweeps", CPU, tmp_path)
    path = bench.save(out, "batched_sweeps", results, CPU, bench.host(CPU))
    assert path == tmp_path / "cpu" / "batched_sweeps.json"
    (record,) = bench.load_all(tmp_path)
    assert record["results"] == results
    assert record["host"]["cores"] >= 1 and record["device"] == "cpu"
    # incomplete or foreign records are named in one line
    broken = tmp_path / "cpu" / "broken.json"
    for text, message in (
        ("{not json", "cannot read"),
        ('{"a": 1}', "not a cpkit benchmark record"),
        (
            json.dumps({**record, "results": {"runs": 4}}),
            "not a complete 'batched_sweeps' record (missing depth",
        ),
        (json.dumps({**record, "device": "tpu"}), "device 'tpu'"),
    ):
        broken.write_text(text)
        with pytest.raises(ConfigError, match="broken.json") as err:
            bench.load_all(tmp_path)
        assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="is not a folder"):
        bench.load_all(tmp_path / "nowhere")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write results to"):
        bench.target("demo", CPU, blocker)


def _images(n: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8)
    return images, rng.integers(0, 10, n)


def test_paper_style_views_zero_the_other_side_and_blur_view_b():
    images, labels = _images(4)
    plain = PaperStyleViews(
        images, labels, CIFAR10_MEAN, CIFAR10_STD, train=False, blur=False
    )
    blurred = PaperStyleViews(
        images, labels, CIFAR10_MEAN, CIFAR10_STD, train=False, blur=True
    )
    x_a, x_b, y = plain[0]
    assert x_a.shape == (3, 16, 16) and y == labels[0]
    assert torch.all(x_a[..., 8:] == 0) and torch.all(x_b[..., :8] == 0)
    assert torch.any(x_a[..., :8] != 0) and torch.any(x_b[..., 8:] != 0)
    _, soft_b, _ = blurred[0]

    # blur removes the fine detail: neighbouring columns differ less
    def roughness(x):
        return (x[..., 9:] - x[..., 8:-1]).abs().mean()

    assert roughness(soft_b) < 0.5 * roughness(x_b)
    # normalised with the given statistics: mean colour 0 on average
    expected = (images[0, :, :8] / 255.0 - CIFAR10_MEAN[0]) / CIFAR10_STD[0]
    assert torch.allclose(
        x_a[0, :, :8], torch.as_tensor(expected[..., 0], dtype=torch.float32)
    )


def test_paper_style_epoch_trains_and_tests():
    images, labels = _images(64)
    train_set = PaperStyleViews(
        images, labels, CIFAR10_MEAN, CIFAR10_STD, train=True, blur=True
    )
    test_set = PaperStyleViews(
        images[:20], labels[:20], CIFAR10_MEAN, CIFAR10_STD, False, False
    )
    torch.manual_seed(0)
    model = SplitResNet18(3, 10, width=1 / 16)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    bn = model.pathway_a[1]
    before = bn.running_mean.clone()
    loss, acc = paper_style_epoch(
        model, opt, loader(train_set, 16, 0), loader(test_set, 10, 0), CPU
    )
    assert np.isfinite(loss) and 0 <= acc <= 100
    assert not torch.equal(before, bn.running_mean)
    with pytest.raises(ConfigError, match="workers"):
        loader(train_set, 16, -1)


def test_gpu_check_refuses_a_cpu_without_smoke_in_one_line(tmp_path):
    out = _script("gpu_check", "--device", "cpu")
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [
        "gpu_check: needs a CUDA GPU (got cpu); --smoke runs it tiny on "
        "this device to check the script"
    ]


def test_gpu_check_smoke_runs_every_section_and_stores_it(tmp_path):
    out = _script(
        "gpu_check",
        *("--device", "cpu", "--smoke", "--results-dir", str(tmp_path)),
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads((tmp_path / "cpu" / "gpu_check.json").read_text())
    results = record["results"]
    assert results["smoke"] is True
    for section in ("throughput", "peak", "epochs", "reference", "sweeps"):
        assert section in results, section
    assert all(v > 0 for v in results["throughput"].values())
    assert 0 < results["peak"]["fraction_of_peak"]
    epochs = results["epochs"]
    # the full blur protocol: 180 main epochs + 10 branches x 179
    assert epochs["protocol_epochs_per_seed"] == 180 + 10 * 179
    assert [len(t) for t in epochs["seconds"].values()] == [2]
    ratios = results["reference"]["ratio_to_reference"]
    assert set(ratios) == {
        "reference (paper's kind)",
        "ours, fp32",
        "ours, bf16",
    }
    assert ratios["reference (paper's kind)"] == 1.0
    sweep = results["sweeps"]["equal deficit lengths (200 steps each)"]
    assert sweep["gap"] < 1e-5 and sweep["ratio"] > 0

    # the performance page shows a GPU record (here this smoke record
    # relabelled, as a stand-in) beside the CPU ones, and a smoke record
    # not at all
    pages = tmp_path / "pages"
    pages.mkdir()
    (tmp_path / "gpu").mkdir()
    record["device"] = "cuda"
    record["results"]["gpu"] = "Stand-in GPU"
    record["host"]["gpu"] = "Stand-in GPU"
    for smoke, shown in ((True, False), (False, True)):
        record["results"]["smoke"] = smoke
        (tmp_path / "gpu" / "gpu_check.json").write_text(json.dumps(record))
        text = _performance_page(tmp_path, pages)
        assert ("Measured on Stand-in GPU" in text) is shown
        assert ("h per seed" in text) is shown
        assert ("not measured yet" in text) is not shown


def test_gpu_check_starts_no_section_past_its_budget(tmp_path):
    out = _script(
        "gpu_check",
        *("--device", "cpu", "--smoke", "--budget", "1e-9"),
        *("--sections", "peak", "sweeps"),
        *("--results-dir", str(tmp_path)),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "peak: skipped, past --budget" in out.stdout
    record = json.loads((tmp_path / "cpu" / "gpu_check.json").read_text())
    assert record["results"]["skipped"] == ["peak", "sweeps"]
    assert "peak" not in record["results"]
    # a budget that cannot be met, or a bad device, is one line
    for flags, message in (
        (("--device", "cpu", "--budget", "0"), "--budget = 0 must be > 0"),
        (("--device", "cpu", "--budget", "nan"), "--budget"),
        (("--device", "nonsense"), "device = 'nonsense'"),
    ):
        bad = _script("gpu_check", "--smoke", *flags)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode != 0 and len(lines) == 1, bad.stderr
        assert message in lines[0]


def test_benchmarks_refuse_bad_flags_before_measuring(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = [
        ("reference_pipeline", ("--images", "0"), "--images = 0"),
        ("reference_pipeline", ("--workers", "-1"), "--workers = -1"),
        ("reference_pipeline", ("--image-size", "7"), "multiple of 4"),
        ("reference_pipeline", ("--width", "0"), "--width = 0"),
        ("reference_pipeline", ("--rounds", "0"), "--rounds = 0"),
        (
            "reference_pipeline",
            ("--results-dir", str(blocker)),
            "cannot write results to",
        ),
        ("batched_sweeps", ("--runs", "1"), "--runs = 1"),
        ("batched_sweeps", ("--depth", "0"), "--depth = 0"),
        ("batched_sweeps", ("--device", "nonsense"), "device"),
        ("quick_book", ("--jobs", "0"), "--jobs = 0"),
        ("quick_book", ("--only", "nonesuch"), "--only nonesuch: not in"),
    ]
    for script, flags, message in cases:
        out = _script(script, *flags)
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1, (flags, out.stderr)
        assert message in lines[0], (flags, lines)


def test_a_run_off_the_defaults_does_not_replace_the_stored_record(
    tmp_path,
):
    out = _script(
        "batched_sweeps",
        *("--runs", "2", "--post-steps", "5", "--rounds", "1"),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not stored: the settings differ from the defaults" in out.stdout


def test_gpu_check_sections_merge_into_the_stored_record(tmp_path):
    def check(*flags):
        out = _script(
            "gpu_check", "--device", "cpu", "--smoke", *flags, timeout=300
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    # a choice of sections without a folder is printed, never stored
    assert "not stored" in check("--sections", "peak")
    folder = ("--results-dir", str(tmp_path))
    check("--sections", "throughput", *folder)
    stored = tmp_path / "cpu" / "gpu_check.json"
    first = json.loads(stored.read_text())["results"]
    assert "throughput" in first and "peak" not in first
    # the peak run later joins the throughput already stored
    check("--sections", "peak", *folder)
    merged = json.loads(stored.read_text())["results"]
    assert merged["throughput"] == first["throughput"]
    assert merged["peak"]["fraction_of_peak"] > 0


@pytest.mark.notebook
def test_quick_book_times_a_batch_without_touching_the_book(tmp_path):
    executed = ROOT / "notebooks" / "sensor_dropping.ipynb"
    before = executed.stat().st_mtime_ns if executed.exists() else None
    names = ("sensor_dropping", "relative_source_variance")
    out = _script(
        "quick_book",
        *("--only", *names, "--results-dir", str(tmp_path)),
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads((tmp_path / "cpu" / "quick_book.json").read_text())
    results = record["results"]
    assert sorted(results["notebooks"]) == [
        f"notebooks/{n}.py" for n in sorted(names)
    ]
    assert results["jobs"] == 2 and results["goal_seconds"] == 900
    # the batch's wall time covers its notebooks, which ran side by side
    assert 0 < max(results["notebooks"].values()) <= results["total_seconds"]
    assert results["ratio_to_goal"] == round(results["total_seconds"] / 900, 2)
    assert "x the 15-minute goal" in out.stdout
    # the book's own executed notebook was left alone
    after = executed.stat().st_mtime_ns if executed.exists() else None
    assert after == before
    # a part of the book is not stored in the repository's record
    again = _script("quick_book", "--only", names[1], timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "not stored: not the whole book at --jobs 2" in again.stdout

    # the performance page shows the stored batch beside the goal
    text = _performance_page(tmp_path, tmp_path / "pages")
    wall = results["total_seconds"]
    # a part of the book is shown as such, with no verdict on the goal
    assert f"Only part of the book ran ({', '.join(names)})" in text
    assert f"**{wall / 60:.1f} min**" in text and "within" not in text
    # the whole book gets the verdict
    stored = tmp_path / "cpu" / "quick_book.json"
    record["results"] = dict(results, only=None, total_seconds=1800.0)
    stored.write_text(json.dumps(record))
    text = _performance_page(tmp_path, tmp_path / "pages")
    assert "The batch took **30.0 min**, 2.0× over the goal" in text
