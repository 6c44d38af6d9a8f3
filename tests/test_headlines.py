"""Headline records: from a notebook's glue to the landing page's table."""

import json
from pathlib import Path

import pytest

from cpkit import ConfigError, headlines
from cpkit.cli import main

NOTEBOOK = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # {title}

# %% tags={tags}
profile = "quick"
device = "cpu"
seed = 0
{extra}

# %%
{body}
"""

CHAPTER = """from cpkit.headlines import per_seed, record

record(
    "{name}",
    [per_seed("drop", "a | drop", [seed + 1.0, seed + 2.0, seed + 3.0],
              "points", paper=2.5)],
    profile=profile, data="toy", seeds=[seed, seed + 1, seed + 2],
    device=device,
)"""

SUMMARY = """from pathlib import Path
from cpkit import headlines
from cpkit.cli import chapters
table = headlines.compare_table(
    headlines.load(Path(headlines_dir)), chapters(Path.cwd().parent)
)
Path({out!r}).write_text(table)"""

#: a minimal record, as a chapter would glue it
RECORD = {
    "schema": 1,
    "chapter": "one",
    "profile": "quick",
    "data": "toy",
    "seeds": [0],
    "device": "cpu",
    "headlines": [
        {
            "key": "drop",
            "claim": "a drop",
            "ours": 1.0,
            "unit": "points",
            "spread": None,
            "paper": 2.0,
            "verdict": "",
        }
    ],
}


def test_per_seed_takes_mean_sd_and_a_noise_verdict():
    h = headlines.per_seed("k", "claim", [1.0, 2.0, 3.0], "points", 2.5)
    assert (h.ours, h.spread, h.paper) == (2.0, 1.0, 2.5)
    assert h.verdict == "beyond 2 SE"  # 2 > 2 * 1 / sqrt(3)
    assert headlines.per_seed("k", "c", [1.0, -1.0, 0.5]).verdict == (
        "within 2 SE"
    )
    one = headlines.per_seed("k", "c", [4.0])
    assert one.spread is None and one.verdict == ""
    with pytest.raises(ConfigError, match="not a number"):
        headlines.Headline("k", "c", float("nan"))
    with pytest.raises(ConfigError, match="no value"):
        headlines.per_seed("k", "c", [])


def test_numbers_keep_two_significant_digits_below_one():
    assert headlines.number(0.0043, None, "") == "0.0043"
    assert headlines.number(213.0, 1.25, "steps") == "213.0 ± 1.2 steps"
    assert headlines.number(0.53, 0.2, "") == "0.53 ± 0.20"
    assert headlines.number(None, None, "points") == "–"
    assert headlines.number(3.0, None, "seeds") == "3 seeds"  # a count
    assert headlines.number(4.1e-10, None, "") == "4.1e-10"


def _book(tmp_path: Path, out: Path) -> list[str]:
    """A two-chapter book with a summary page; the CLI arguments for it."""
    root = tmp_path / "book"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: notebooks/summary\nchapters:\n"
        "  - file: notebooks/one\n  - file: notebooks/two\n"
    )
    for name in ("one", "two"):
        (root / "notebooks" / f"{name}.py").write_text(
            NOTEBOOK.format(
                title=f"Chapter {name}",
                tags='["parameters"]',
                extra="# not a summary page: headlines_dir in a comment",
                body=CHAPTER.format(name=name),
            )
        )
    (root / "notebooks" / "summary.py").write_text(
        NOTEBOOK.format(
            title="Summary",
            tags='["parameters", "remove-cell", "summary-page"]',
            extra='headlines_dir = "nowhere"',
            body=SUMMARY.format(out=str(out)),
        )
    )
    return [
        "notebooks",
        "--root",
        str(root),
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path / "out"),
        "--times",
        str(tmp_path / "times.json"),
        "--headlines-dir",
        str(tmp_path / "headlines"),
    ]


@pytest.mark.notebook
def test_records_travel_from_chapters_to_the_summary_page(tmp_path, capsys):
    out = tmp_path / "table.md"
    args = _book(tmp_path, out)
    assert main(args) == 0
    printed = capsys.readouterr().out
    # the summary page ran last, although the toc names it first
    assert printed.index("one.py") < printed.index("summary.py")
    records = headlines.load(tmp_path / "headlines")
    entry = records["quick"]["one"]
    assert entry["headlines"][0]["ours"] == 2.0
    assert entry["seeds"] == [0, 1, 2] and entry["device"] == "cpu"
    times = json.loads((tmp_path / "times.json").read_text())
    assert entry["seconds"] == times["notebooks/one.py"]
    assert entry["host"]["torch"] and entry["host"]["commit"]
    table = out.read_text()
    assert (
        "| Chapter one | a \\| drop | 2.50 points | 2.00 ± 1.00 points "
        in (table)
    )
    assert "not run" in table  # no full profile stored
    # a run with -p changes is not recorded, and leaves the record alone
    before = (tmp_path / "headlines" / "quick" / "one.json").read_text()
    assert main([*args, "--only", "one", "-p", "seed", "5"]) == 2  # --seed
    assert main([*args, "--seed", "5", "--only", "one"]) == 0
    after = json.loads((tmp_path / "headlines/quick/one.json").read_text())
    assert after["headlines"][0]["ours"] == 7.0  # --seed is a profile run
    (tmp_path / "headlines/quick/one.json").write_text(before)
    code = main([*args, "--only", "one", "-p", "extra", "1"])
    assert code == 1  # the notebook does not take it
    assert (tmp_path / "headlines/quick/one.json").read_text() == before


def test_a_damaged_record_stops_the_batch_in_one_line(tmp_path, capsys):
    args = _book(tmp_path, tmp_path / "table.md")
    bad = tmp_path / "headlines" / "quick" / "one.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schema": 99}')
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a cpkit headline record" in err[0]
    assert bad.read_text() == '{"schema": 99}'  # left for the user to see
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not readable as JSON"):
        headlines.load(tmp_path / "headlines")


def test_a_full_record_sits_beside_the_quick_one(tmp_path):
    quick = dict(RECORD)
    full = dict(quick, profile="full")
    full["headlines"] = [dict(quick["headlines"][0], ours=1.9)]
    host = headlines.provenance(Path.cwd(), "cpu")
    for entry in (quick, full):
        headlines.write(entry, tmp_path, 12.0, host)
    records = headlines.load(tmp_path)
    table = headlines.compare_table(records, [("one", "One"), ("two", "Two")])
    assert "| One | a drop | 2 points | 1 points | 1.90 points |" in table
    assert "| Two | – | – | not run | not run |" in table
    assert "12 s on cpu" in headlines.run_text(records["full"]["one"])
    # a chapter's own closing table: this run beside the stored full run
    mine = dict(quick, headlines=[dict(quick["headlines"][0], ours=1.1)])
    text = headlines.beside_full(mine, tmp_path)
    assert "| a drop | 2 points | 1.10 points | 1.90 points |" in text
    assert "Full profile: full profile; toy; seed 0; 12 s on cpu" in text
    assert "No `full`-profile run" in headlines.beside_full(
        dict(mine, chapter="two"), tmp_path
    )
    assert "built with the `full` profile" in headlines.beside_full(
        full, tmp_path
    )


@pytest.mark.notebook
def test_records_that_do_not_fit_are_refused_and_lose_nothing(
    tmp_path, capsys
):
    args = _book(tmp_path, tmp_path / "table.md")
    book = tmp_path / "book" / "notebooks"
    # a chapter that records another chapter's name, one another profile
    (book / "two.py").write_text(
        (book / "two.py").read_text().replace('"two"', '"one"')
    )
    (book / "one.py").write_text(
        (book / "one.py")
        .read_text()
        .replace("profile=profile", 'profile="full"')
    )
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "one.ipynb").write_text("a good earlier run")
    assert main([*args, "--only", "one", "two"]) == 1
    out = capsys.readouterr().out
    assert "says profile 'full', but the run was 'quick'" in out
    assert "is for chapter 'one', not 'two'" in out
    assert (tmp_path / "out" / "one.ipynb").read_text() == (
        "a good earlier run"
    )
    assert (tmp_path / "out" / "one.failed.ipynb").is_file()
    assert headlines.load(tmp_path / "headlines") == {}
    # the folder for records cannot be made: one line, nothing runs
    (tmp_path / "file").write_text("keep")
    bad = [*args, "--headlines-dir", str(tmp_path / "file" / "sub")]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot make" in err[0]
    # the folder is given with its flag, not as a notebook parameter
    assert main([*args, "-p", "headlines_dir", str(tmp_path)]) == 2
    assert "--headlines-dir" in capsys.readouterr().err


def test_stored_records_are_checked_field_by_field(tmp_path):
    host = headlines.provenance(Path.cwd(), "cpu")
    entry = dict(RECORD)
    path = headlines.write(entry, tmp_path, 3.0, host)
    assert headlines.load(tmp_path)["quick"]["one"]["seconds"] == 3.0
    broken = {
        "no profile": {k: v for k, v in entry.items() if k != "profile"},
        "a path for a name": dict(entry, chapter="../escaped"),
        "NaN": dict(
            entry, headlines=[dict(entry["headlines"][0], ours=1e999)]
        ),
        "text seeds": dict(entry, seeds="5"),
        "no headlines": dict(entry, headlines=[]),
    }
    for bad in broken.values():
        path.write_text(json.dumps(dict(bad, seconds=3.0, host=host)))
        with pytest.raises(ConfigError, match="not a cpkit headline record"):
            headlines.load(tmp_path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not readable as JSON"):
        headlines.load(tmp_path)
    # a record filed under another profile's folder is refused
    path.write_text(
        json.dumps(dict(entry, profile="full", seconds=1.0, host=host))
    )
    with pytest.raises(ConfigError, match="belongs in full/one.json"):
        headlines.load(tmp_path)


def test_modified_means_code_not_stored_results(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("1")
    (tmp_path / "code.py").write_text("x = 1")
    git("add", ".")
    git("commit", "-qm", "start")
    assert not headlines._modified(tmp_path)
    (tmp_path / "results" / "r.json").write_text("2")  # a run's output
    assert not headlines._modified(tmp_path)
    (tmp_path / "code.py").write_text("x = 2")
    assert headlines._modified(tmp_path)
