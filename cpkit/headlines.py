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
import os
import platform
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
    if isinstance(seeds, int):
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
                k: (float(v) if isinstance(v, (int, float)) else v)
                for k, v in asdict(h).items()
            }
            for h in headlines
        ],
    }
    from myst_nb import glue

    glue(GLUE_KEY, json.dumps(entry), display=display)
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
            if not isinstance(entry, dict) or entry.get("schema") != SCHEMA:
                raise ConfigError(
                    f"{notebook}: its headline record is not of schema "
                    f"{SCHEMA}"
                )
            return entry
    return None


def _modified(root: Path) -> bool:
    """Whether tracked files of the checkout at ``root`` differ from HEAD."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
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
    out.parent.mkdir(parents=True, exist_ok=True)
    full = dict(entry, seconds=round(float(seconds), 1), host=host)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(full, indent=1) + "\n")
    tmp.replace(out)
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
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"{path}: not readable as JSON ({err})"
            ) from None
        if not isinstance(entry, dict) or entry.get("schema") != SCHEMA:
            raise ConfigError(
                f"{path}: not a cpkit headline record (schema {SCHEMA})"
            )
        found.setdefault(entry["profile"], {})[entry["chapter"]] = entry
    return found


def number(value: float | None, spread: float | None, unit: str) -> str:
    """``value ± spread unit``, with two significant digits below 1."""
    if value is None:
        return "–"
    size = max(abs(value), abs(spread or 0.0))
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
    return text.replace("|", "\\|")


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


def compare_table(
    records: dict[str, dict[str, dict]],
    chapters: Sequence[tuple[str, str]],
    profiles: Sequence[str] = ("quick", "full"),
) -> str:
    """A Markdown table: every chapter's headlines, paper beside ours.

    ``chapters`` lists (chapter name, title) in reading order; a profile
    that has no record for a chapter shows "not run".
    """
    head = "| chapter | what is measured | paper | " + " | ".join(
        f"ours, {p}" for p in profiles
    )
    lines = [head + " |", "|---|---|---|" + "---|" * len(profiles)]
    for chapter, title in chapters:
        entries = [records.get(p, {}).get(chapter) for p in profiles]
        source = next((e for e in entries if e is not None), None)
        if source is None:
            cells = " | ".join("not run" for _ in profiles)
            lines.append(f"| {title} | – | – | {cells} |")
            continue
        for i, h in enumerate(source["headlines"]):
            row = [_cell(title) if i == 0 else "", _cell(h["claim"])]
            row.append(number(h["paper"], None, h["unit"]))
            for entry in entries:
                match = None
                if entry is not None:
                    match = next(
                        (
                            x
                            for x in entry["headlines"]
                            if x["key"] == h["key"]
                        ),
                        None,
                    )
                cell = "not run"
                if match is not None:
                    cell = number(
                        match["ours"], match["spread"], match["unit"]
                    )
                    if match["verdict"]:
                        cell += f" ({match['verdict']})"
                row.append(cell)
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
        match = [x for x in stored["headlines"] if x["key"] == h["key"]]
        full = (
            number(match[0]["ours"], match[0]["spread"], match[0]["unit"])
            if match
            else "–"
        )
        lines.append(
            f"| {_cell(h['claim'])} | {number(h['paper'], None, h['unit'])} "
            f"| {number(h['ours'], h['spread'], h['unit'])} | {full} |"
        )
    lines += ["", f"Full profile: {run_text(stored)}."]
    return "\n".join(lines)
