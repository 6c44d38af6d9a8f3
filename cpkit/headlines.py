"""Each chapter's headline numbers, kept as small files the book reads.

A chapter ends with :func:`record`: a few :class:`Headline` numbers (ours,
with their spread over seeds, beside the paper's) glued into the executed
notebook. ``cpkit notebooks`` takes them out of a notebook that ran
without error (:func:`extract`), adds where and how it ran
(:func:`provenance`) and writes ``<folder>/<profile>/<chapter>.json``
(:func:`write`). The landing page and the reproducibility page read those
files back (:func:`load`), so quick results and, once someone has run it,
the paper-scale ``full`` profile appear side by side; nothing is typed in.
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import numbers
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cpkit.errors import ConfigError

#: the glue key that carries a chapter's record in its executed notebook
GLUE_KEY = "cpkit_headlines"
#: version of the file layout below
SCHEMA = 1


@dataclass(frozen=True)
class Headline:
    """One number a chapter stands on.

    ``ours`` is the mean over seeds and ``spread`` its standard deviation
    (None with one seed or a deterministic computation); ``paper`` is the
    paper's number for the same quantity where it has one.
    """

    key: str
    claim: str
    ours: float
    unit: str = ""
    spread: float | None = None
    paper: float | None = None
    verdict: str = ""

    def __post_init__(self) -> None:
        for name in ("ours", "spread", "paper"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(float(value)):
                raise ConfigError(
                    f"headline {self.key}: {name} = {value} is not a number"
                )


def per_seed(
    key: str,
    claim: str,
    values: Sequence[float],
    unit: str = "",
    paper: float | None = None,
    verdict: str = "",
) -> Headline:
    """A headline from one value per seed: their mean and sd.

    Unless ``verdict`` is given, it says whether the mean is beyond twice
    its standard error over the seeds.
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ConfigError(f"headline {key}: no value")
    spread = float(v.std(ddof=1)) if v.size > 1 else None
    if not verdict and spread is not None:
        beyond = abs(v.mean()) > 2 * spread / np.sqrt(v.size)
        verdict = "beyond 2 SE" if beyond else "within 2 SE"
    return Headline(
        key,
        claim,
        float(v.mean()),
        unit,
        spread,
        None if paper is None else float(paper),
        verdict,
    )


def paper_drop(curve: str) -> float:
    """A digitized accuracy curve's first value minus its last (points)."""
    from cpkit import reference

    _, acc = reference.accuracy_curve(curve)
    return float(acc[0] - acc[-1])


def record(
    chapter: str,
    headlines: Sequence[Headline],
    *,
    profile: str,
    data: str,
    seeds: Sequence[int] | int | None,
    device: object,
    display: bool = False,
) -> dict:
    """Glue a chapter's headlines into its notebook; return the record."""
    if not headlines:
        raise ConfigError(f"{chapter}: no headline to record")
    keys = [h.key for h in headlines]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{chapter}: repeated headline keys {keys}")
    if seeds is not None and np.ndim(seeds) == 0:
        seeds = [seeds]
    entry = {
        "schema": SCHEMA,
        "chapter": chapter,
        "profile": profile,
        "data": data,
        "seeds": None if seeds is None else [int(s) for s in seeds],
        "device": str(device),
        "headlines": [
            {
                k: (float(v) if isinstance(v, numbers.Real) else v)
                for k, v in asdict(h).items()
            }
            for h in headlines
        ],
    }
    check(entry, f"chapter {chapter}")
    from myst_nb import glue

    glue(GLUE_KEY, json.dumps(entry), display=display)
    return entry


#: a chapter name is a plain file name
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: fields of one headline: text, a number, numbers that may be null
_TEXT_FIELDS = ("key", "claim", "unit", "verdict")
_OPTIONAL_NUMBERS = ("spread", "paper")


def _number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def check(entry: object, where: str, stored: bool = False) -> dict:
    """``entry`` if it is a headline record (with host and wall time when
    ``stored``); else a one-line :class:`ConfigError` naming ``where``."""

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{where}: not a cpkit headline record ({what})")

    if not isinstance(entry, dict) or entry.get("schema") != SCHEMA:
        raise bad(f"schema {SCHEMA} expected")
    for name in ("chapter", "profile", "data", "device"):
        if not isinstance(entry.get(name), str):
            raise bad(f"{name} must be text")
    if not _NAME.fullmatch(entry["chapter"]):
        raise bad(f"chapter {entry['chapter']!r} is not a plain name")
    if not _NAME.fullmatch(entry["profile"]):
        raise bad(f"profile {entry['profile']!r} is not a plain name")
    seeds = entry.get("seeds")
    if seeds is not None and not (
        isinstance(seeds, list)
        and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise bad("seeds must be a list of integers or null")
    items = entry.get("headlines")
    if not isinstance(items, list) or not items:
        raise bad("headlines must be a non-empty list")
    for item in items:
        if not isinstance(item, dict):
            raise bad("each headline must be an object")
        if not all(isinstance(item.get(n), str) for n in _TEXT_FIELDS):
            raise bad(f"headline {', '.join(_TEXT_FIELDS)} must be text")
        if not _number(item.get("ours")) or not all(
            item.get(n) is None or _number(item.get(n))
            for n in _OPTIONAL_NUMBERS
        ):
            raise bad("headline ours, spread, paper must be finite numbers")
    if stored:
        if not _number(entry.get("seconds")):
            raise bad("seconds must be a number")
        host = entry.get("host")
        if not isinstance(host, dict) or not all(
            isinstance(host.get(k), str)
            for k in ("date", "commit", "cpu", "gpu", "os")
        ):
            raise bad("host must name date, commit, cpu, gpu and os")
    return entry


def extract(notebook: Path) -> dict | None:
    """The record glued into an executed notebook, or None if it has none.

    A record that is there but cannot be read is a :class:`ConfigError`.
    """
    cells = json.loads(Path(notebook).read_text()).get("cells", [])
    for cell in cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook", {})
            if meta.get("name") != GLUE_KEY:
                continue
            # glue(display=False) files text/plain under a papermill prefix
            texts = [
                v
                for k, v in output.get("data", {}).items()
                if k.endswith("text/plain")
            ]
            text = texts[0] if texts else ""
            if isinstance(text, list):
                text = "".join(text)
            try:
                entry = json.loads(ast.literal_eval(text))
            except (ValueError, SyntaxError, TypeError) as err:
                raise ConfigError(
                    f"{notebook}: its headline record is unreadable ({err})"
                ) from None
            return check(entry, f"{notebook}: its glued record")
    return None


def _modified(root: Path) -> bool:
    """Whether tracked files of the checkout at ``root`` differ from HEAD.

    Stored results (``results/``) do not count: they are what runs write,
    not the code that ran.
    """
    try:
        done = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)results",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 0


def provenance(root: Path, device: str) -> dict:
    """Where and with what this process runs: host, versions, commit."""
    import torch

    import cpkit
    from cpkit.protocols import _git_commit

    commit = (_git_commit() or "")[:12]
    dirty = bool(commit) and _modified(root)
    gpu = ""
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "commit": (commit + (" (modified)" if dirty else "")) or "unknown",
        "cpkit": cpkit.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": _cpu_name(),
        "cores": _usable_cores(),
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
    }


def write(entry: dict, folder: Path, seconds: float, host: dict) -> Path:
    """Write ``entry`` with its wall time and host to its profile's folder.

    The file is replaced atomically, so a reader never sees half of it.
    """
    out = Path(folder) / entry["profile"] / f"{entry['chapter']}.json"
    full = dict(entry, seconds=round(float(seconds), 1), host=host)
    return write_json(out, full)


def write_json(out: Path, record: dict) -> Path:
    """Write ``record`` to ``out`` as JSON through a temporary file, flushed
    and renamed, so a reader never sees half of it; an OSError is one
    line."""
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as handle:
            handle.write(json.dumps(record, indent=1) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(out)
    except OSError as err:
        raise ConfigError(
            f"cannot write {out}: {err.strerror or err}"
        ) from None
    return out


def load(folder: Path) -> dict[str, dict[str, dict]]:
    """Every stored record: ``{profile: {chapter: record}}``.

    A file that is not a record of this layout is refused with its path.
    """
    found: dict[str, dict[str, dict]] = {}
    folder = Path(folder)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*/*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError) as err:  # JSON and Unicode errors
            reason = str(err).splitlines()[0] if str(err) else type(err)
            raise ConfigError(
                f"{path}: not readable as JSON ({reason})"
            ) from None
        check(entry, str(path), stored=True)
        if (entry["profile"], entry["chapter"]) != (
            path.parent.name,
            path.stem,
        ):
            raise ConfigError(
                f"{path}: holds the record of {entry['chapter']} "
                f"({entry['profile']}); it belongs in "
                f"{entry['profile']}/{entry['chapter']}.json"
            )
        found.setdefault(entry["profile"], {})[entry["chapter"]] = entry
    return found


def number(value: float | None, spread: float | None, unit: str) -> str:
    """``value ± spread unit``: two significant digits below 1, powers of
    ten below 0.001, whole numbers without decimals."""
    if value is None:
        return "–"
    if spread is None and float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)} {unit}".strip()  # a count, or an exact step
    size = max(abs(value), abs(spread or 0.0))
    if size < 1e-3:
        text = f"{value:.1e}" + ("" if spread is None else f" ± {spread:.1e}")
        return f"{text} {unit}".strip()
    if size >= 10:
        digits = 1
    elif size >= 1 or size == 0:
        digits = 2
    else:
        digits = 1 - math.floor(math.log10(size))
    text = f"{value:.{digits}f}"
    if spread is not None:
        text += f" ± {spread:.{digits}f}"
    return f"{text} {unit}".strip()


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def run_text(entry: dict) -> str:
    """One line on how a record was obtained."""
    seeds = entry.get("seeds")
    seed_text = (
        "deterministic"
        if not seeds
        else f"seed {seeds[0]}"
        if len(seeds) == 1
        else f"seeds {', '.join(str(s) for s in seeds)}"
    )
    host = entry.get("host", {})
    machine = host.get("gpu") or f"{host.get('cores', '?')} CPU cores"
    return (
        f"{entry['profile']} profile; {entry['data']}; {seed_text}; "
        f"{entry.get('seconds', float('nan')):.0f} s on {entry['device']} "
        f"({machine}); commit {host.get('commit', '?')}, "
        f"{host.get('date', '?')}"
    )


def _lookup(entry: dict | None, key: str) -> dict | None:
    if entry is None:
        return None
    return next((h for h in entry["headlines"] if h["key"] == key), None)


def _ours(h: dict | None, missing: str) -> str:
    """Our number of a headline, its spread and verdict, as a table cell."""
    if h is None:
        return missing
    text = number(h["ours"], h["spread"], h["unit"])
    if h["verdict"]:
        text += f" ({h['verdict']})"
    return _cell(text)


def compare_table(
    records: dict[str, dict[str, dict]],
    chapters: Sequence[tuple[str, str]],
    profiles: Sequence[str] = ("quick", "full"),
) -> str:
    """A Markdown table: every chapter's headlines, paper beside ours.

    ``chapters`` lists (chapter name, title) in reading order; a profile
    that has no record for a chapter shows "not run". Rows are the
    headlines of every profile's record, in order of first appearance.
    """
    head = "| chapter | what is measured | paper | " + " | ".join(
        f"ours, {p}" for p in profiles
    )
    lines = [head + " |", "|---|---|---|" + "---|" * len(profiles)]
    for chapter, title in chapters:
        entries = [records.get(p, {}).get(chapter) for p in profiles]
        rows: dict[str, dict] = {}
        for entry in entries:
            for h in entry["headlines"] if entry else []:
                rows.setdefault(h["key"], h)
        if not rows:
            cells = " | ".join("not run" for _ in profiles)
            lines.append(f"| {_cell(title)} | – | – | {cells} |")
            continue
        for i, (key, h) in enumerate(rows.items()):
            row = [_cell(title) if i == 0 else "", _cell(h["claim"])]
            row.append(_cell(number(h["paper"], None, h["unit"])))
            row += [
                _ours(_lookup(e, key), "not run" if e is None else "–")
                for e in entries
            ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def beside_full(entry: dict, folder: Path | str) -> str:
    """Markdown: this run's headlines beside the stored ``full`` record.

    For the end of a chapter; says so when no paper-scale run is stored.
    """
    if entry["profile"] == "full":
        return "This page was built with the `full` profile itself."
    stored = load(Path(folder)).get("full", {}).get(entry["chapter"])
    if stored is None:
        return (
            "No `full`-profile run of this chapter is stored yet "
            "(`results/headlines/full/`); the reproducibility page says "
            "how to make one."
        )
    lines = [
        f"| what is measured | paper | this page ({entry['profile']}) "
        "| full profile |",
        "|---|---|---|---|",
    ]
    for h in entry["headlines"]:
        paper = _cell(number(h["paper"], None, h["unit"]))
        lines.append(
            f"| {_cell(h['claim'])} | {paper} | {_ours(h, '–')} | "
            f"{_ours(_lookup(stored, h['key']), '–')} |"
        )
    lines += ["", f"Full profile: {run_text(stored)}."]
    return "\n".join(lines)
