"""Side-by-side timing for the benchmarks, and their stored results.

Every benchmark in ``benchmarks/`` times two ways of doing the same work
in one process, in alternating rounds, and keeps the fastest round of
each (the least disturbed by a noisy machine). :func:`save` writes what
it measured, with the machine and versions, to
``results/benchmarks/<kind>/<name>.json`` (``kind``: ``cpu`` or ``gpu``),
which the book's performance page reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from cpkit.config import check_float, check_int
from cpkit.errors import ConfigError

#: the stored results, beside the repository's headline records
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "results" / "benchmarks"


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock reading means something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(
    contenders: dict[str, Callable[[], object]],
    rounds: int,
    device: torch.device,
) -> dict[str, float]:
    """Fastest-round seconds of each contender, run in turn ``rounds`` times.

    The contenders' order reverses every round, so a slow spell of the
    machine hits each of them. Each call's result is discarded.
    """
    rounds = check_int("rounds", rounds, minimum=1)
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            synchronize(device)
            start = time.perf_counter()
            contenders[name]()
            synchronize(device)
            seconds[name].append(time.perf_counter() - start)
    return {name: min(times) for name, times in seconds.items()}


def kind(device: torch.device) -> str:
    """``gpu`` on CUDA, else ``cpu``: the results folder of a device."""
    return "gpu" if device.type == "cuda" else "cpu"


def host(device: torch.device) -> dict:
    """The machine, versions and commit: take it when a benchmark starts,
    so that it names the code that ran, not the tree at the end."""
    from cpkit.headlines import provenance

    return provenance(Path(__file__).resolve().parent.parent, str(device))


def target(name: str, device: torch.device, folder: Path | str | None) -> Path:
    """Where ``name``'s record goes; checked writable *before* measuring.

    A folder that cannot hold it is a one-line error, so no measurement
    is made only to be lost.
    """
    root = Path(folder).expanduser() if folder is not None else DEFAULT_DIR
    out = root / kind(device) / f"{name}.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.with_name(f".{out.name}.probe")
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write results to {out.parent}: {err.strerror or err}"
        ) from None
    return out


def destination(
    name: str, device: torch.device, folder: str | None, keep: bool
) -> Path | None:
    """Where a run of benchmark ``name`` will be stored, checked writable
    before measuring (:func:`target`); None when it will not be: ``keep``
    is False and no ``folder`` was given."""
    if folder is None and not keep:
        return None
    return target(name, device, folder)


def save(
    out: Path | None,
    name: str,
    results: dict,
    device: torch.device,
    started: dict,
    unstored: str = "",
) -> Path | None:
    """Store ``results`` with ``started`` (:func:`host` at the start) and
    say where; with ``out`` None, say why not (``unstored``) instead.
    Returns the file written, if any."""
    from cpkit.headlines import write_json

    if out is None:
        print(f"not stored: {unstored}; give --results-dir DIR to keep it")
        return None
    record = {
        "benchmark": name,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "host": started,
        "results": results,
    }
    path = write_json(out, record)
    print(f"stored in {path}")
    return path


#: what the performance page reads from each benchmark's results
REQUIRED = {
    "reference_pipeline": (
        "settings",
        "seconds_per_epoch",
        "images_per_second",
        "ratio_to_reference",
    ),
    "batched_sweeps": ("runs", "depth", "post_steps"),
    "gpu_check": ("smoke", "gpu", "skipped"),
    "quick_book": (
        "jobs",
        "only",
        "notebooks",
        "sum_seconds",
        "total_seconds",
        "goal_seconds",
    ),
}


def load_all(folder: Path | str | None = None) -> list[dict]:
    """Every stored benchmark record under ``folder`` (cpu, then gpu).

    A missing folder, or a file that is not a complete benchmark record,
    is a one-line error naming it.
    """
    root = Path(folder) if folder is not None else DEFAULT_DIR
    if not root.is_dir():
        raise ConfigError(f"benchmarks_dir {root} is not a folder")
    records = []
    for path in sorted(root.glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read {path}: {err}") from None
        if not isinstance(record, dict) or not {
            "benchmark",
            "device",
            "threads",
            "host",
            "results",
        } <= set(record):
            raise ConfigError(f"{path} is not a cpkit benchmark record")
        name, results = record["benchmark"], record["results"]
        missing = [
            key
            for key in REQUIRED.get(name, ())
            if not isinstance(results, dict) or key not in results
        ]
        if name not in REQUIRED or missing:
            raise ConfigError(
                f"{path} is not a complete {name!r} record"
                + (f" (missing {', '.join(missing)})" if missing else "")
            )
        if record["device"].split(":")[0] not in ("cpu", "cuda", "mps"):
            raise ConfigError(
                f"{path}: device {record['device']!r} is not cpu, cuda or mps"
            )
        records.append(record)
    return records


def step_rate(
    model: torch.nn.Module,
    shape: tuple[int, int, int],
    device: torch.device,
    batch: int,
    steps: int,
    bf16: bool = False,
    channels_last: bool = False,
    compiled: bool = False,
    train: bool = True,
) -> float:
    """Images/s of SGD steps (or forward passes) of a two-view model.

    Random inputs of ``shape`` on ``device``, both views the same tensor;
    two untimed warm-up steps (with ``compiled``, they include the
    compilation).
    """
    import torch.nn.functional as F

    steps = check_int("steps", steps, minimum=1)
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    forward = torch.compile(model) if compiled else model
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=bf16)

    def step() -> None:
        if not train:
            with torch.no_grad(), autocast:
                forward(x, x)
            return
        with autocast:
            loss = F.cross_entropy(forward(x, x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train(train)
    for _ in range(2):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def forward_flops(model: torch.nn.Module, shape: tuple[int, int, int]) -> int:
    """Floating-point operations of one image's forward pass (2 per MAC).

    Counts convolutions and linear layers, the work that matters; a
    training step costs about three times this (forward and backward).
    """
    total = 0

    def count(module, inputs, output) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            per_out = module.in_channels // module.groups
            per_out *= module.kernel_size[0] * module.kernel_size[1]
            total += 2 * per_out * output[0].numel()
        elif isinstance(module, torch.nn.Linear):
            total += 2 * module.in_features * module.out_features

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, *shape, device=device)
            model(x, x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


def matmul_peak(
    device: torch.device, n: int = 8192, repeats: int = 20
) -> float:
    """Measured bf16 matmul FLOP/s of ``device``: (n x n) @ (n x n)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def run_script(main: Callable[[], None], prog: str) -> None:
    """Run a benchmark's ``main``; bad input exits with one line."""
    import sys

    try:
        main()
    except ConfigError as err:
        sys.exit(f"{prog}: {err}")
    except KeyboardInterrupt:
        sys.exit(f"{prog}: interrupted; nothing stored")


def check_settings(args, defaults: dict, positive: tuple[str, ...]) -> bool:
    """Validate ``args`` (one-line errors); whether they are the defaults.

    Only a run at the defaults may replace the stored record in the
    repository's results folder; any other run needs ``--results-dir``
    (or ``--no-save``), so a toy run never stands in for the measurement.
    """
    for name in positive:
        value = getattr(args, name)
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, float):
            check_float(flag, value, minimum=0.0, strict=True)
        else:
            check_int(flag, value, minimum=1)
    return all(getattr(args, k) == v for k, v in defaults.items())
