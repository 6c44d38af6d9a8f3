"""Profiles, parameter validation and the notebook batch command."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from cpkit import ConfigError, headlines
from cpkit.cli import main, toc_notebooks
from cpkit.config import resolve_device
from cpkit.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
PLOTLY = "application/vnd.plotly.v1+json"


def run_batch(tmp_path: Path, *args: str) -> int:
    """``cpkit notebooks`` on this repo, writing only under tmp_path."""
    return main(
        [
            "notebooks",
            "--root",
            str(ROOT),
            "--output-dir",
            str(tmp_path),
            "--times",
            str(tmp_path / "times.json"),
            "--headlines-dir",
            str(tmp_path / "headlines"),
            *args,
        ]
    )


def test_profiles_exist_for_every_chapter():
    chapters = ("sensor_dropping", "pathways", "matrix_completion", "rsv")
    stereo = ("stereo_blur", "stereo_dissociation", "stereo_timing_depth")
    for chapter in chapters + stereo + ("video", "masked"):
        quick = get_profile(chapter, "quick")
        full = get_profile(chapter, "full")
        assert quick != full


@pytest.mark.parametrize(
    ("profile", "overrides", "message"),
    [
        ("fast", {}, "profile = 'fast' is not one of: quick, full"),
        ("quick", {"depth": 0}, "depth = 0 must be >= 1"),
        ("quick", {"deficit_onset": -5.0}, "deficit_onset = -5"),
        ("quick", {"deficit_onset": 55.0}, "ends after the run's 60"),
        ("quick", {"init_scale": -1e-3}, "init_scale"),
        ("quick", {"depht": 3}, "depht is not a parameter"),
        ("quick", {"depth": 2.5}, "depth = 2.5 must be an integer"),
        ("quick", {"depths": 5}, "depths = 5 must be a non-empty tuple"),
        ("quick", {"dt": 100.0}, "dt = 100 is too coarse"),
        ("quick", {"deficit_length": 0.0}, "give it a positive length"),
        ("quick", {"init_scales": ()}, "init_scales = () must be"),
    ],
)
def test_bad_parameters_give_one_line(profile, overrides, message):
    with pytest.raises(ConfigError) as err:
        get_profile("pathways", profile, **overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_matrix_completion_profile_is_validated():
    with pytest.raises(ConfigError, match="must increase"):
        get_profile("matrix_completion", "quick", deficit_steps=(500, 0))
    with pytest.raises(ConfigError, match="start at 0"):
        get_profile("matrix_completion", "quick", deficit_steps=(5, 10))
    with pytest.raises(ConfigError, match="ranks must be at most n"):
        get_profile("matrix_completion", "quick", rank_task=50)


def test_override_changes_dependent_grids():
    cfg = get_profile("pathways", "quick", deficit_length=25.0)
    assert cfg.onsets[-1] == pytest.approx(35.0)
    assert cfg.late_onset + cfg.deficit_length <= cfg.total_time


def test_device_validation():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="device = 'tpu'"):
        resolve_device("tpu")


def test_toc_lists_existing_notebooks():
    names = [p.stem for p in toc_notebooks(ROOT)]
    assert names == [
        "sensor_dropping",
        "pathway_competition",
        "matrix_completion",
        "relative_source_variance",
        "stereo_blur",
        "stereo_dissociation",
        "stereo_timing_depth",
        "video",
        "masked",
        "intro",  # the summary pages run last
        "performance",
        "reproducibility",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile", "fast"], "profile = 'fast'"),
        (["--device", "gpu"], "device = 'gpu'"),
        (["--device", "cuda"], "device = 'cuda' but torch sees no CUDA GPU"),
        (["--seed", "-1"], "seed = -1"),
        (["--only", "nonesuch"], "--only nonesuch: not in _toc.yml"),
        (["--seed", str(2**40)], "must be < 2**32"),
        (["--timeout", "0"], "--timeout = 0 must be >= 1"),
        (["--jobs", "0"], "--jobs = 0 must be >= 1"),
        (["-p", "profile", "full"], "-p profile: set it with --profile"),
        (["-p", "depth", "null"], "null is not a value"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(argv, message, capsys, tmp_path):
    code = run_batch(tmp_path, *argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.notebook
def test_unknown_notebook_parameter_is_refused(capsys, tmp_path):
    code = run_batch(
        tmp_path, "--only", "relative_source_variance", "-p", "depth", "3"
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "unknown parameter(s) depth" in out


def test_cli_refuses_unusable_paths(capsys, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("keep me")
    code = main(
        ["notebooks", "--root", str(ROOT), "--output-dir", str(not_a_dir)]
    )
    assert code == 2 and "is a file, not a folder" in capsys.readouterr().err
    code = main(
        [
            "notebooks",
            "--root",
            str(ROOT),
            "--output-dir",
            str(tmp_path / "out"),
            "--times",
            str(tmp_path),
        ]
    )
    assert code == 2 and "is a folder, not a file" in capsys.readouterr().err
    assert not_a_dir.read_text() == "keep me"


NOTEBOOK = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
profile = "quick"
device = "auto"
seed = 0
{extra}
# %%
from pathlib import Path
Path({out!r}).write_text(repr({value}))
"""


@pytest.mark.notebook
def test_a_shared_results_folder_reaches_the_notebooks_that_take_one(
    tmp_path, capsys
):
    root = tmp_path / "book"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        "  - file: notebooks/takes\n  - file: notebooks/ignores\n"
    )
    (root / "notebooks" / "takes.py").write_text(
        NOTEBOOK.format(
            extra="results_dir = None",
            out=str(tmp_path / "takes.txt"),
            value="results_dir",
        )
    )
    (root / "notebooks" / "ignores.py").write_text(
        NOTEBOOK.format(
            extra="", out=str(tmp_path / "ignores.txt"), value="seed"
        )
    )
    args = ["notebooks", "--root", str(root), "--device", "cpu"]
    args += ["--output-dir", str(tmp_path / "out")]
    args += ["--times", str(tmp_path / "times.json")]
    assert main([*args, "--results-dir", "shared"]) == 0
    shared = Path("shared").resolve()
    assert (tmp_path / "takes.txt").read_text() == repr(str(shared))
    assert (tmp_path / "ignores.txt").read_text() == "0"
    # a folder given with -p is used and kept, not the batch's own
    mine = tmp_path / "mine"
    assert (
        main([*args, "--only", "takes", "-p", "results_dir", str(mine)]) == 0
    )
    assert (tmp_path / "takes.txt").read_text() == repr(str(mine))
    # one folder, given once
    code = main([*args, "--results-dir", "a", "-p", "results_dir", "b"])
    assert code == 2 and "not both" in capsys.readouterr().err
    (tmp_path / "file").write_text("keep me")
    code = main([*args, "--results-dir", str(tmp_path / "file")])
    assert code == 2 and "is not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep me"


CHAPTER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"{tag}]
profile = "quick"
device = "auto"
seed = 0
results_dir = None

# %%
import json, os, time
from pathlib import Path
start = time.time()
time.sleep({sleep})
seen = sorted(p.name for p in Path({folder!r}).glob("*.json"))
Path({folder!r}, {name!r} + ".json").write_text(json.dumps(dict(
    results_dir=results_dir,
    folder_exists=results_dir is not None and Path(results_dir).is_dir(),
    threads=os.environ.get("OMP_NUM_THREADS"),
    start=start, end=time.time(), seen=seen,
)))
"""


def _batch_book(tmp_path: Path) -> tuple[Path, Path]:
    """Two slow chapters and a summary page that looks at what ran."""
    root, seen = tmp_path / "book", tmp_path / "seen"
    (root / "notebooks").mkdir(parents=True)
    seen.mkdir()
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: notebooks/page\nchapters:\n"
        "  - file: notebooks/one\n  - file: notebooks/two\n"
    )
    for name, tag, sleep in (
        ("page", ', "summary-page"', 0),
        ("one", "", 6),
        ("two", "", 6),
    ):
        (root / "notebooks" / f"{name}.py").write_text(
            CHAPTER.format(tag=tag, sleep=sleep, folder=str(seen), name=name)
        )
    return root, seen


@pytest.mark.notebook
def test_chapters_run_at_once_then_the_summary_pages(tmp_path, capsys):
    root, seen = _batch_book(tmp_path)
    args = ["notebooks", "--root", str(root), "--device", "cpu"]
    args += ["--output-dir", str(tmp_path / "out")]
    args += ["--times", str(tmp_path / "times.json"), "--jobs", "2"]
    (tmp_path / "times.json").write_text(
        json.dumps({"notebooks/one.py": 1.0, "notebooks/two.py": 50.0})
    )
    assert main(args) == 0
    # the longest recorded chapter first
    assert "2 at a time (" in (out := capsys.readouterr().out)
    assert "): two, one" in out
    one, two, page = (
        json.loads((seen / f"{n}.json").read_text())
        for n in ("one", "two", "page")
    )
    # the two chapters overlapped, each with its share of the cores
    assert one["start"] < two["end"] and two["start"] < one["end"]
    cores = len(os.sched_getaffinity(0))
    if "OMP_NUM_THREADS" not in os.environ:
        assert one["threads"] == two["threads"] == str(max(1, cores // 2))
    # they shared one results folder for the batch, removed at its end
    assert one["results_dir"] == two["results_dir"] == page["results_dir"]
    assert one["folder_exists"] and two["folder_exists"]
    assert not Path(one["results_dir"]).exists()
    # the summary page ran after both chapters had finished
    assert page["seen"] == ["one.json", "two.json"]
    times = json.loads((tmp_path / "times.json").read_text())
    assert sorted(times) == [
        f"notebooks/{n}.py" for n in ("one", "page", "two")
    ]


def test_the_longest_chapters_start_first_by_the_latest_times(tmp_path):
    from cpkit.cli import _recorded_times

    root = tmp_path
    stored = root / "results" / "benchmarks" / "cpu"
    stored.mkdir(parents=True)
    (stored / "quick_book.json").write_text(
        json.dumps({"results": {"notebooks": {"a.py": 5, "b.py": 9}}})
    )
    assert _recorded_times(root, "quick") == {"a.py": 5, "b.py": 9}
    # the benchmark stands for the quick profile only
    assert _recorded_times(root, "full") == {}
    # this checkout's own batches take precedence; damage is ignored
    (root / "_build").mkdir()
    (root / "_build" / "notebook-times-quick.json").write_text(
        json.dumps({"a.py": 20})
    )
    (root / "_build" / "notebook-times-full.json").write_text("{not json")
    assert _recorded_times(root, "quick") == {"a.py": 20, "b.py": 9}
    assert _recorded_times(root, "full") == {}


@pytest.mark.notebook
def test_a_chapter_whose_process_dies_fails_alone(tmp_path, capsys):
    root, seen = _batch_book(tmp_path)
    # the kernel kills the process that runs its notebook
    (root / "notebooks" / "two.py").write_text(
        CHAPTER.format(tag="", sleep=0, folder=str(seen), name="two")
        + "\n# %%\nos.kill(os.getppid(), 9)\n"
    )
    args = ["notebooks", "--root", str(root), "--device", "cpu"]
    args += ["--output-dir", str(tmp_path / "out"), "--jobs", "2"]
    args += ["--times", str(tmp_path / "times.json")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "1 of 3 notebooks failed" in out
    assert "notebooks/two.py: its process died (exit code -9)" in out
    assert (tmp_path / "out" / "one.ipynb").is_file()
    assert (tmp_path / "out" / "page.ipynb").is_file()


def test_a_damaged_times_record_stops_the_batch_before_it_runs(
    tmp_path, capsys
):
    for text in ("{not json", "[1, 2]"):
        (tmp_path / "times.json").write_text(text)
        code = run_batch(tmp_path, "--only", "intro")
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "move it away" in err
        assert (tmp_path / "times.json").read_text() == text  # kept
        assert not (tmp_path / "intro.ipynb").exists()  # nothing ran
    # a times record under a file cannot be written: said before running
    below = str(tmp_path / "times.json" / "x")
    code = run_batch(tmp_path, "--only", "intro", "--times", below)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a file" in err and "\n" not in err


@pytest.mark.notebook
def test_one_at_a_time_the_chapters_still_share_a_batch_folder(tmp_path):
    root, seen = _batch_book(tmp_path)
    args = ["notebooks", "--root", str(root), "--device", "cpu"]
    args += ["--output-dir", str(tmp_path / "out")]
    args += ["--times", str(tmp_path / "times.json"), "--only", "one", "two"]
    assert main(args) == 0
    one, two = (
        json.loads((seen / f"{n}.json").read_text()) for n in ("one", "two")
    )
    assert one["end"] <= two["start"]  # in the order of the book
    assert one["results_dir"] == two["results_dir"]
    assert one["folder_exists"] and not Path(one["results_dir"]).exists()
    assert one["threads"] == os.environ.get("OMP_NUM_THREADS")


@pytest.mark.notebook
def test_failing_cell_is_named_and_loses_nothing(capsys, tmp_path):
    good = tmp_path / "pathway_competition.ipynb"
    good.write_text("a good earlier result")
    (tmp_path / "times.json").write_text('{"earlier": 1.0}')
    code = run_batch(
        tmp_path, "--only", "pathway_competition", "-p", "depth", "0"
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "notebooks/pathway_competition.py: cell" in out
    assert good.read_text() == "a good earlier result"  # not overwritten
    assert (tmp_path / "pathway_competition.failed.ipynb").is_file()
    assert json.loads((tmp_path / "times.json").read_text()) == {
        "earlier": 1.0
    }
    assert "ConfigError: depth = 0 must be >= 1" in out


@pytest.mark.notebook
def test_chapters_execute_in_quick_profile(tmp_path):
    # every chapter runs through papermill, with its parameters injected
    theory = [
        "sensor_dropping",
        "pathway_competition",
        "matrix_completion",
        "relative_source_variance",
    ]
    code = run_batch(
        tmp_path, "--profile", "quick", "--device", "cpu", "--only", *theory
    )
    assert code == 0
    # the stereo chapters end to end on small data (the book runs them fully)
    code = run_batch(
        tmp_path,
        "--profile",
        "quick",
        "--device",
        "cpu",
        "--only",
        "stereo_blur",
        "stereo_dissociation",
        "stereo_timing_depth",
        "-p",
        "source",
        "digits",
        "-p",
        "seeds",
        "1",
    )
    assert code == 0
    # the video chapter on a 6-epoch budget (its longer check: 12)
    code = run_batch(
        tmp_path,
        "--profile",
        "quick",
        "--device",
        "cpu",
        "--only",
        "video",
        *("-p", "source", "digits", "-p", "seeds", "1", "-p", "epochs", "6"),
    )
    assert code == 0
    # the masked chapter on short budgets; its supervised arm is the
    # video profile's own 12-epoch sweep
    code = run_batch(
        tmp_path,
        "--profile",
        "quick",
        "--device",
        "cpu",
        "--only",
        "masked",
        *("-p", "source", "digits", "-p", "seeds", "1"),
        *("-p", "pretrain_epochs", "4", "-p", "window_length", "1"),
        *("-p", "finetune_epochs", "3"),
    )
    assert code == 0
    # the summary pages read the records the theory chapters left
    code = run_batch(
        tmp_path,
        *("--device", "cpu", "--only", "intro", "performance"),
        "reproducibility",
    )
    assert code == 0
    times = tmp_path / "times.json"
    recorded = json.loads(times.read_text())
    assert len(recorded) == 12
    # only the runs without -p changes were recorded, each with its host
    records = headlines.load(tmp_path / "headlines")
    assert sorted(records) == ["quick"]
    assert sorted(records["quick"]) == sorted(theory)
    for name, entry in records["quick"].items():
        assert entry["seconds"] == recorded[f"notebooks/{name}.py"]
        assert entry["host"]["cores"] >= 1
        assert entry["device"].startswith("cpu")
    intro = nbformat.read(tmp_path / "intro.ipynb", as_version=4)
    shown = "".join(
        "".join(o.get("data", {}).get("text/markdown", ""))
        for c in intro.cells
        for o in c.get("outputs", [])
    )
    delay = records["quick"]["sensor_dropping"]["headlines"][0]
    assert headlines.number(delay["ours"], None, delay["unit"]) in shown
    assert "| Blurring one view" in shown and "not run" in shown
    for path in tmp_path.glob("*.ipynb"):
        if path.stem in ("intro", "performance", "reproducibility"):
            continue
        # every chapter records headlines, -p or not
        assert headlines.extract(path) is not None, path.stem
        # every figure says what was run: profile, and time and device
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                fig = output.get("data", {}).get(PLOTLY)
                if fig is None:
                    continue
                subtitle = fig["layout"]["title"]["subtitle"]["text"]
                line = subtitle.replace("<br>", " ")
                assert "profile" in line, (path.stem, line)
                assert " s on " in line or "nothing trained" in line, (
                    path.stem,
                    line,
                )
    for path in tmp_path.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        injected = [
            c
            for c in nb.cells
            if "injected-parameters" in c.metadata.get("tags", [])
        ]
        assert injected and 'device = "cpu"' in injected[0].source
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert errors == []


def test_text_explorer_recomputes_and_reports_errors():
    import ipywidgets as widgets

    from cpkit.explorers import text_explorer

    def report(depth: int) -> str:
        get_profile("pathways", "quick", depth=depth)
        return f"depth is {depth}"

    slider = widgets.IntSlider(value=2, min=0, max=5)
    box = text_explorer(report, {"depth": slider})
    shown = box.children[-1]
    assert "depth is 2" in shown.value
    slider.value = 4
    assert "depth is 4" in shown.value
    slider.value = 0
    assert "error: depth = 0 must be &gt;= 1" in shown.value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source": "svhn"}, "source = 'svhn' is not one of"),
        ({"removal_epochs": (4, 8)}, "must include 0"),
        ({"control_epochs": (0, 6)}, "control_epochs [6] are not in"),
        ({"clean_epochs": 3}, "clean_epochs = 3 must be >= 5"),
        ({"width": 0.0}, "width = 0 must be > 0"),
        ({"seeds": 0}, "seeds = 0 must be >= 1"),
        ({"precision": "fp16"}, "precision = 'fp16' is not one of"),
        ({"torch_compile": 1}, "torch_compile = 1 must be True/False"),
    ],
)
def test_stereo_profile_rejects_bad_values(overrides, message):
    with pytest.raises(ConfigError) as err:
        get_profile("stereo_blur", "quick", **overrides)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_interrupted_batch_says_so_in_one_line(capsys, monkeypatch):
    import cpkit.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_notebooks", interrupted)
    assert cli.main(["notebooks", "--only", "stereo_blur"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("cpkit: interrupted;") and "\n" not in err
