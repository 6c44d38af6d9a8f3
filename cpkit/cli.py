"""Command line: run the book's notebooks through papermill.

``cpkit notebooks`` converts every notebook listed in ``_toc.yml`` from
Jupytext py:percent to .ipynb, executes it with papermill (parameters
``profile``, ``device``, ``seed`` and any ``-p name value``), puts the
executed notebook next to its source only if every cell succeeded,
continues past a failure, and ends with a list of failures and a non-zero
exit if there were any. ``--jobs N`` runs N chapters at once; the
notebooks of one batch share a results folder.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from cpkit import headlines, workers
from cpkit.bench import kind as bench_kind
from cpkit.config import DEVICES, check_choice, check_int, resolve_device
from cpkit.errors import ConfigError
from cpkit.profiles import PROFILES


def toc_notebooks(root: Path) -> list[Path]:
    """Jupytext sources (notebooks/*.py) listed in the book's _toc.yml."""
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise ConfigError(
            f"no _toc.yml in {root}: run from the repo root or pass --root"
        )
    try:
        toc = yaml.safe_load(toc_path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{toc_path}: not YAML ({err})") from None
    if not isinstance(toc, dict):
        raise ConfigError(f"{toc_path}: not a Jupyter Book table of contents")
    files: list[str] = [str(toc["root"])] if "root" in toc else []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    found = []
    for name in files:
        source = root / (name + ".py")
        if name.startswith("notebooks/") and source.is_file():
            if source not in found:
                found.append(source)
    # pages that summarise the chapters' headlines run after the chapters
    return sorted(found, key=is_summary_page)


def chapters(root: Path) -> list[tuple[str, str]]:
    """(name, title) of every chapter in reading order, summary pages out.

    The title is the notebook's first Markdown heading.
    """
    import jupytext

    found = []
    for source in toc_notebooks(root):
        if is_summary_page(source):
            continue
        title = source.stem
        for cell in jupytext.read(source).cells:
            first = cell.source.lstrip().splitlines()[:1]
            if cell.cell_type == "markdown" and first and first[0][:2] == "# ":
                title = first[0][2:].strip()
                break
        found.append((source.stem, title))
    return found


#: the parameters-cell tag of a page that summarises the chapters
SUMMARY_TAG = "summary-page"


def is_summary_page(source: Path) -> bool:
    """Whether a notebook's parameters cell is tagged ``summary-page``."""
    import jupytext

    for cell in jupytext.read(source).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags:
            return SUMMARY_TAG in tags
    return False


#: parameters that name files or folders: kept as text, made absolute
PATH_SUFFIXES = ("_path", "_dir")


def parse_value(text: str, name: str = "") -> object:
    """A -p value as YAML (so 3 is an int and 1e-3 a float).

    Values of ``*_path`` / ``*_dir`` parameters stay text and are made
    absolute from the current directory (the kernels run in notebooks/).
    """
    if name.endswith(PATH_SUFFIXES):
        return str(Path(text).expanduser().absolute())
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(
            f"-p {name} {text!r}: not a value (quote it as YAML text, "
            "e.g. \"'...'\")"
        ) from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def execute(
    source: Path, output: Path, parameters: dict, timeout: int
) -> tuple[float, str | None]:
    """Execute one notebook; return (seconds, None) or (seconds, error)."""
    import jupytext

    with tempfile.TemporaryDirectory(prefix="cpkit-nb-") as staging:
        converted = Path(staging) / (source.stem + ".ipynb")
        jupytext.write(jupytext.read(source), converted)
        return _execute_converted(
            converted, source, output, parameters, timeout
        )


def _execute_converted(
    converted: Path,
    source: Path,
    output: Path,
    parameters: dict,
    timeout: int,
) -> tuple[float, str | None]:
    """Run papermill on an .ipynb converted from ``source``.

    The notebook executes into a temporary file that replaces ``output``
    only on success, so a failed run never overwrites a good one; a failed
    notebook is kept as ``<output stem>.failed.ipynb`` for inspection.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    # refuse parameters that the notebook does not declare
    try:
        declared = papermill.inspect_notebook(str(converted))
    except ValueError as err:  # e.g. no kernel named in its header
        return 0.0, f"cannot read its parameters: {err}"
    parameters = dict(parameters)  # shared by every notebook of the batch
    shared = parameters.pop(_SHARED_RESULTS, None)
    if shared is not None and "results_dir" in declared:
        parameters["results_dir"] = shared
    summary = parameters.pop(_HEADLINES, None)
    if summary is not None and "headlines_dir" in declared:
        parameters["headlines_dir"] = summary
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        return 0.0, (
            f"unknown parameter(s) {', '.join(unknown)}; this notebook "
            f"takes: {', '.join(declared)}"
        )
    partial = converted.with_name(converted.stem + ".executed.ipynb")
    failed = output.with_name(output.stem + ".failed.ipynb")
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(converted),
            str(partial),
            parameters=parameters,
            cwd=str(source.parent),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
            **_kernel_manager(converted.parent),
        )
    except PapermillExecutionError as err:
        line = (err.evalue or "").strip().splitlines()
        detail = line[-1] if line else ""
        error = (
            f"cell {err.cell_index} (execution count {err.exec_count}): "
            f"{err.ename}: {detail}"
        )
    except Exception as err:  # kernel death, timeout: report, go on
        message = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        error = f"{type(err).__name__}: {message[0] if message else ''}"
    seconds = time.perf_counter() - start
    if error is None:
        try:
            check_record(partial, source.stem, parameters.get("profile"))
        except ConfigError as err:
            error = str(err)
    if error is None:
        _hide_injected_like_parameters(partial)
        shutil.move(str(partial), str(output))
        failed.unlink(missing_ok=True)
        return seconds, None
    if partial.exists():
        shutil.move(str(partial), str(failed))
        error += f" (executed cells kept in {failed.name})"
    return seconds, error


def _kernel_manager(folder: Path) -> dict:
    """Papermill's kernel manager, talking to its kernel over Unix sockets
    in ``folder`` where there are any: kernels that parallel chapters
    start at the same moment cannot then race for one TCP port."""
    if os.name != "posix":
        return {}
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    class SocketFileKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc")

        @default("ip")
        def _ip_default(self) -> str:
            return str(folder / "kernel")

    return {"kernel_manager_class": SocketFileKernelManager}


def check_record(notebook: Path, chapter: str, profile: object) -> None:
    """Refuse a glued headline record that is unreadable or that names
    another chapter or profile than the notebook's run."""
    entry = headlines.extract(notebook)
    if entry is None:
        return
    if entry["chapter"] != chapter:
        raise ConfigError(
            f"its headline record is for chapter {entry['chapter']!r}, "
            f"not {chapter!r}"
        )
    if profile is not None and entry["profile"] != profile:
        raise ConfigError(
            f"its headline record says profile {entry['profile']!r}, but "
            f"the run was {profile!r}"
        )


def _hide_injected_like_parameters(notebook: Path) -> None:
    """Give papermill's injected cell the display tags of the parameters
    cell, so a page that hides its parameters hides both."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    params = [
        c for c in nb.cells if "parameters" in c.metadata.get("tags", [])
    ]
    if not params:
        return
    shown = [t for t in params[0].metadata["tags"] if t != "parameters"]
    if not shown:
        return
    for cell in nb.cells:
        cell_tags = cell.metadata.get("tags", [])
        if "injected-parameters" in cell_tags:
            cell.metadata["tags"] = cell_tags + [
                t for t in shown if t not in cell_tags
            ]
    nbformat.write(nb, notebook)


#: a ``--results-dir`` travels under this name and becomes ``results_dir``
#: for the notebooks that declare one
_SHARED_RESULTS = "__results_dir__"
#: the headline folder travels under this name to the notebooks that
#: declare ``headlines_dir``
_HEADLINES = "__headlines_dir__"


def _parameters(args: argparse.Namespace) -> dict:
    """Notebook parameters from the flags and the -p pairs."""
    parameters = {
        "profile": args.profile,
        "device": args.device,
        "seed": args.seed,
    }
    for name, text in args.param or []:
        if name == "headlines_dir":
            raise ConfigError(
                "-p headlines_dir: give that folder with --headlines-dir, "
                "so that the records are written there too"
            )
        if name in parameters:
            raise ConfigError(
                f"-p {name}: set it with --{name} instead, so that the run "
                "is labelled and timed under the right name"
            )
        value = parse_value(text, name)
        if value is None:
            raise ConfigError(
                f"-p {name} {text}: null is not a value; leave the "
                "parameter out to use the profile's default"
            )
        parameters[name] = value
    if args.results_dir:
        if "results_dir" in parameters:
            raise ConfigError(
                "give the results folder once: --results-dir or "
                "-p results_dir, not both"
            )
        folder = Path(args.results_dir).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"--results-dir {folder} is not a folder")
        parameters[_SHARED_RESULTS] = str(folder)
    return parameters


def run_notebooks(args: argparse.Namespace) -> int:
    """The ``notebooks`` command; returns the exit code."""
    root = Path(args.root).resolve()

    # validate everything before the first kernel starts
    check_choice("profile", args.profile, PROFILES)
    check_choice("device", args.device, DEVICES)
    resolve_device(args.device)  # a missing GPU is one line, not N fails
    check_int("seed", args.seed, minimum=0)
    if args.seed >= 2**32:
        raise ConfigError(f"seed = {args.seed} must be < 2**32")
    if args.timeout is None:
        args.timeout = 3600 if args.profile == "quick" else 86_400
    check_int("--timeout", args.timeout, minimum=1)
    jobs = check_int("--jobs", args.jobs, minimum=1)
    parameters = _parameters(args)
    if args.worker is not None:
        workers.parse(args.worker)
        if _SHARED_RESULTS not in parameters:
            raise ConfigError(
                "--worker needs --results-dir: the folder the workers share"
            )
        # the kernels inherit it: their sweeps start on this worker's seeds
        os.environ[workers.ENV] = args.worker
    sources = toc_notebooks(root)
    if args.only:
        wanted = set(args.only)
        missing = wanted - {s.stem for s in sources}
        if missing:
            raise ConfigError(
                f"--only {', '.join(sorted(missing))}: not in _toc.yml; "
                f"notebooks: {', '.join(s.stem for s in sources)}"
            )
        sources = [s for s in sources if s.stem in wanted]
    out_dir = Path(args.output_dir).resolve() if args.output_dir else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--output-dir {out_dir} is a file, not a folder")
    record = (
        Path(args.times)
        if args.times
        else root / "_build" / f"notebook-times-{args.profile}.json"
    )
    if record.is_dir():
        raise ConfigError(f"--times {record} is a folder, not a file")
    _read_times(record)  # a damaged record: one line, before any kernel
    # records go with the executed notebooks: the book's folder by default,
    # beside --output-dir when the notebooks go there
    if args.headlines_dir:
        headlines_dir = Path(args.headlines_dir).expanduser().resolve()
    elif out_dir is not None:
        headlines_dir = out_dir / "headlines"
    else:
        headlines_dir = root / "results" / "headlines"
    profile_dir = headlines_dir / args.profile
    try:
        profile_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"--headlines-dir {headlines_dir}: cannot make {profile_dir} "
            f"({err.strerror or err})"
        ) from None
    headlines.load(headlines_dir)  # a damaged record: one line, up front
    parameters[_HEADLINES] = str(headlines_dir)
    # headlines stand for a profile only when no -p changed the run
    # (where data or finished runs live does not change the run)
    custom = sorted(
        name
        for name, _ in args.param or []
        if not name.endswith(PATH_SUFFIXES)
    )
    resolved = str(resolve_device(args.device))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    # no more at once than there are chapters; each kernel gets the
    # user's OMP_NUM_THREADS, else its share of the usable cores
    jobs = min(jobs, max(1, sum(not is_summary_page(s) for s in sources)))
    threads = None
    if jobs > 1:
        threads = _user_threads() or max(1, headlines._usable_cores() // jobs)
    # what every headline record of this batch says about how it ran
    batch = {"jobs": jobs, "threads": threads, "batch_started": _now()}
    started = time.perf_counter()

    def output_of(source: Path) -> Path:
        if out_dir is not None:
            return out_dir / (source.stem + ".ipynb")
        return source.with_suffix(".ipynb")

    failures, times = [], {}

    def settle(source: Path, seconds: float, error: str | None) -> None:
        """Report one finished notebook and keep its time and headlines
        (before any summary page starts, so that it reads them)."""
        output = output_of(source)
        rel = source.relative_to(root)
        # notebooks that run at once finish in any order: name each one
        name = f"{rel}: " if jobs > 1 and not is_summary_page(source) else ""
        if error:
            failures.append(f"{rel}: {error}")
            print(f"  {name}FAILED after {seconds:.0f} s: {error}", flush=True)
        else:
            times[str(rel)] = round(seconds, 1)
            print(f"  {name}ok in {seconds:.0f} s", flush=True)
            try:
                entry = headlines.extract(output)
            except ConfigError as err:
                failures.append(f"{rel}: {err}")
                print(f"  headlines not recorded: {err}", flush=True)
                return
            if entry is None:
                return
            if custom:
                print(
                    "  headlines not recorded: -p "
                    f"{', '.join(custom)} changed the {args.profile} profile",
                    flush=True,
                )
                return
            host = {
                **headlines.provenance(root, resolved),
                **batch,
                "finished": _now(),
            }
            try:
                path = headlines.write(entry, headlines_dir, seconds, host)
            except ConfigError as err:
                failures.append(f"{rel}: {err}")
                print(f"  headlines not recorded: {err}", flush=True)
                return
            print(f"  headlines: {path}", flush=True)

    with contextlib.ExitStack() as stack:
        if _SHARED_RESULTS not in parameters and "results_dir" not in (
            parameters
        ):
            # the notebooks of one batch share their runs (the masked
            # chapter reads the video chapter's sweeps); nothing is kept
            stack.enter_context(_batch_store(parameters))
        _execute_all(
            sources,
            output_of,
            parameters,
            args.timeout,
            jobs,
            threads,
            lambda source: print(
                f"running {source.relative_to(root)} ({args.profile}, "
                f"{args.device})",
                flush=True,
            ),
            settle,
            root,
            record,
            bench_kind(resolve_device(args.device)),
        )

    # merge this run's times into the record (successful runs only)
    record.parent.mkdir(parents=True, exist_ok=True)
    recorded = _read_times(record)
    recorded.update(times)
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(recorded, indent=1) + "\n")
    tmp.replace(record)
    if failures:
        print(f"{len(failures)} of {len(sources)} notebooks failed:")
        for line in failures:
            print(f"  {line}")
        return 1
    noun = "notebook" if len(sources) == 1 else "notebooks"
    wall = time.perf_counter() - started
    at_once = f", {jobs} at a time" if jobs > 1 else ""
    print(
        f"{len(sources)} {noun} executed ({args.profile} profile{at_once}) "
        f"in {wall / 60:.1f} min"
    )
    return 0


def _read_times(record: Path) -> dict:
    """The times record (notebook: seconds), {} if there is none yet; one
    that is not such a record is a one-line error, not overwritten."""
    for folder in record.parents:
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(f"--times {record}: {folder} is a file")
            break
    if not record.is_file():
        return {}
    try:
        times = json.loads(record.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"times record {record} cannot be read ({err}): move it away"
        ) from None
    if not isinstance(times, dict):
        raise ConfigError(
            f"times record {record} is not a JSON object: move it away"
        )
    return times


def _user_threads() -> int | None:
    """OMP_NUM_THREADS as the user set it, if it is a positive count."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _batch_store(parameters: dict):
    """A results folder for one batch of notebooks, removed at its end."""
    with tempfile.TemporaryDirectory(
        prefix="cpkit-runs-", ignore_cleanup_errors=True
    ) as folder:
        parameters[_SHARED_RESULTS] = folder
        try:
            yield folder
        finally:
            del parameters[_SHARED_RESULTS]


def _set_threads(threads: int | None) -> None:
    """The kernels this process starts will use ``threads``."""
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)


def _execute_all(
    sources: list[Path],
    output_of: Callable[[Path], Path],
    parameters: dict,
    timeout: int,
    jobs: int,
    threads: int | None,
    announce: Callable[[Path], None],
    settle: Callable[[Path, float, str | None], None],
    root: Path,
    record: Path,
    kind: str,
) -> None:
    """Execute ``sources``, calling ``settle(source, seconds, error)`` as
    each one finishes.

    With ``jobs`` > 1 the chapters run that many at a time in separate
    processes, the longest first by the last recorded times; the summary
    pages follow, one at a time, once every chapter has finished.
    """
    pages = [s for s in sources if is_summary_page(s)]
    queue = [s for s in sources if s not in pages]
    if jobs == 1 or len(queue) < 2:
        pages, queue = sources, []
    if queue:
        known = _recorded_times(root, parameters["profile"], record, kind)
        queue.sort(key=lambda s: -known.get(str(s.relative_to(root)), 0.0))
        each = (
            f"{threads} thread{'s' * (threads > 1)} each"
            if threads
            else "OMP_NUM_THREADS"
        )
        print(
            f"running {len(queue)} chapters, {jobs} at a time ({each}): "
            + ", ".join(s.stem for s in queue),
            flush=True,
        )
        _execute_in_processes(
            queue, output_of, parameters, timeout, jobs, threads, settle
        )
    for source in pages:
        announce(source)
        settle(
            source, *execute(source, output_of(source), parameters, timeout)
        )


def _execute_in_processes(
    queue: list[Path],
    output_of: Callable[[Path], Path],
    parameters: dict,
    timeout: int,
    jobs: int,
    threads: int | None,
    settle: Callable[[Path, float, str | None], None],
) -> None:
    """Run ``queue`` ``jobs`` at a time, each notebook in a process of its
    own, so that one that dies fails alone; Ctrl-C starts nothing more and
    stops the running ones (their kernels and staging folders go too)."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    waiting, running = list(queue), {}
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                source = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_execute_child,
                    args=(source, output_of(source), parameters, timeout),
                    kwargs={"threads": threads, "send": send},
                )
                process.start()
                send.close()
                running[process.sentinel] = (
                    process,
                    receive,
                    source,
                    time.perf_counter(),
                )
            for sentinel in wait(list(running)):
                process, receive, source, began = running.pop(sentinel)
                process.join()
                try:
                    outcome = receive.recv()
                except EOFError:  # it died before it could answer
                    outcome = (
                        time.perf_counter() - began,
                        f"its process died (exit code {process.exitcode})",
                    )
                receive.close()
                settle(source, *outcome)
    except KeyboardInterrupt:
        for process, *_ in running.values():
            process.terminate()
        for process, *_ in running.values():
            process.join()
        raise


def _execute_child(
    source: Path,
    output: Path,
    parameters: dict,
    timeout: int,
    threads: int | None,
    send,
) -> None:
    """One notebook in a process of its own; ``send`` gets (seconds,
    error). The parent alone answers Ctrl-C; SIGTERM ends it cleanly."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _set_threads(threads)
    send.send(execute(source, output, parameters, timeout))
    send.close()


def _recorded_times(
    root: Path, profile: str, record: Path | None = None, kind: str = "cpu"
) -> dict[str, float]:
    """Seconds per notebook of ``profile``: for the quick profile, the
    stored quick-book benchmark of this ``kind`` of device (cpu or gpu);
    then the batch times ``record`` (default
    ``_build/notebook-times-<profile>.json``), which take precedence."""
    record = record or root / "_build" / f"notebook-times-{profile}.json"
    sources = [record]
    if profile == "quick":
        stored = root / "results" / "benchmarks" / kind / "quick_book.json"
        sources.insert(0, stored)
    times: dict[str, float] = {}
    for path in sources:
        try:
            found = json.loads(path.read_text())
            if path.name == "quick_book.json":
                found = found["results"]["notebooks"]
            times.update(found)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no record, or not one: the book's order stands
    return {k: v for k, v in times.items() if isinstance(v, (int, float))}


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``cpkit`` command."""
    parser = argparse.ArgumentParser(prog="cpkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    nb = sub.add_parser("notebooks", help="execute the book's notebooks")
    nb.add_argument("--profile", default="quick", help="quick or full")
    nb.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    nb.add_argument("--seed", type=int, default=0)
    nb.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="extra notebook parameter (repeatable)",
    )
    nb.add_argument("--only", nargs="+", help="notebook names to run")
    nb.add_argument(
        "--results-dir",
        help="folder that keeps finished runs, shared by every notebook "
        "that takes results_dir (later notebooks reuse earlier runs)",
    )
    nb.add_argument(
        "--headlines-dir",
        help="where each chapter's headline numbers go, one folder per "
        "profile (default: results/headlines, or OUTPUT_DIR/headlines "
        "with --output-dir); the landing and "
        "reproducibility pages read them",
    )
    nb.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="seconds per cell (default: 3600 quick, 86400 full)",
    )
    nb.add_argument(
        "--worker",
        metavar="I/N",
        help="worker I of N processes (e.g. one per GPU) sharing "
        "--results-dir: each starts every sweep on different seeds and "
        "no run is trained twice",
    )
    nb.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="chapters executed at once, each in its own process with "
        "its share of the CPU cores (default 1); the summary pages run "
        "after them",
    )
    nb.add_argument("--root", default=".", help="repository root")
    nb.add_argument(
        "--output-dir",
        help="where executed notebooks go (default: beside their sources, "
        "where the book build reads them)",
    )
    nb.add_argument(
        "--times",
        help="JSON file for run times (default: "
        "_build/notebook-times-PROFILE.json)",
    )
    nb.set_defaults(func=run_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors and exit 2 for bad input."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"cpkit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "cpkit: interrupted; runs kept in a results_dir resume when the "
            "same command is run again",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
