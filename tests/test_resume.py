"""Runs killed mid-training resume exactly; unreadable states are skipped."""

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

SCRIPT = """
import sys

import torch

torch.set_num_threads(1)
import cpkit.protocols
from cpkit.deficits import DeficitWindow
from cpkit.protocols import (
    DataSpec, MeasureConfig, ModelSpec, Runner, RunStore
)
from cpkit.training import TrainConfig

# note where training starts: a resumed run must not redo epochs
starts = []
real_train = cpkit.protocols.train


def spy(*args, resume=None, **kw):
    starts.append(0 if resume is None else resume["next_epoch"])
    return real_train(*args, resume=resume, **kw)


cpkit.protocols.train = spy
runner = Runner(
    ModelSpec("sresnet18", 1 / 16, "multi"),
    DataSpec("digits", n_train=300, n_test=100),
    TrainConfig(lr0=0.05, decay=0.8, batch_size=32),
    store=RunStore(sys.argv[1]),
    measure=MeasureConfig(n_conditioning=10, probe=False),
)
window = DeficitWindow("dissociation", 2, 3, 12)
record = runner.run(0, range(0, 12), window, checkpoints=[4, 8])
torch.save(
    {"log": record["log"], "metrics": record["metrics"],
     "checkpoints": record["checkpoints"], "starts": starts},
    sys.argv[2],
)
"""


def _start(script: Path, store: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(store), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_epochs(proc: subprocess.Popen, store: Path, n: int) -> int:
    """SIGKILL ``proc`` once its saved state has changed ``n`` times."""
    seen, last = 0, None
    deadline = time.monotonic() + 120
    while seen < n and time.monotonic() < deadline:
        assert proc.poll() is None, "the run finished before it was killed"
        stamps = [p.stat().st_mtime_ns for p in store.glob("*.partial.pt")]
        if stamps and stamps[0] != last:
            seen, last = seen + 1, stamps[0]
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return seen


def _same(a: dict, b: dict) -> None:
    assert a["log"] == b["log"]
    assert a["metrics"] == b["metrics"]
    assert a["checkpoints"].keys() == b["checkpoints"].keys()
    for k in a["checkpoints"]:
        for name, tensor in a["checkpoints"][k].items():
            assert torch.equal(tensor, b["checkpoints"][k][name]), (k, name)


def _reference(tmp_path: Path) -> tuple[Path, dict]:
    """The run script, and the result of running it uninterrupted."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    reference = _start(script, tmp_path / "ref", tmp_path / "ref.pt")
    assert reference.wait() == 0, reference.stderr.read()
    return script, torch.load(tmp_path / "ref.pt", weights_only=True)


def test_killed_runs_resume_bit_identical(tmp_path):
    script, expected = _reference(tmp_path)

    store = tmp_path / "store"
    rng = random.Random(20261205)
    for _ in range(2):  # killed twice, at random epochs
        proc = _start(script, store, tmp_path / "out.pt")
        assert _kill_after_epochs(proc, store, rng.randint(1, 4)) >= 1
        assert not (tmp_path / "out.pt").exists()
        assert not [p for p in store.glob("*.pt") if ".partial" not in p.name]
    # the state file is whole: no half-written file under its name
    state = torch.load(next(store.glob("*.partial.pt")), weights_only=True)
    assert 1 <= state["next_epoch"] <= 12
    finish = _start(script, store, tmp_path / "out.pt")
    assert finish.wait() == 0, finish.stderr.read()
    resumed = torch.load(tmp_path / "out.pt", weights_only=True)
    assert resumed["starts"] == [state["next_epoch"]]
    assert expected["starts"] == [0]
    _same(resumed, expected)
    # finished: one record, no states, no temporary files
    assert [p.name for p in store.iterdir() if ".partial" in p.name] == []
    assert not list(store.glob(".*.tmp"))


def test_an_unreadable_state_falls_back_to_the_one_before(tmp_path, caplog):
    script, expected = _reference(tmp_path)

    store = tmp_path / "store"
    proc = _start(script, store, tmp_path / "out.pt")
    _kill_after_epochs(proc, store, 3)
    current = next(store.glob("*.partial.pt"))
    previous = current.name.replace(".partial.pt", ".partial.prev.pt")
    fallback = torch.load(store / previous, weights_only=True)["next_epoch"]
    current.write_bytes(current.read_bytes()[:100])  # truncated
    # resume in this process, so the one-line report can be checked
    import runpy

    import cpkit.protocols

    argv, threads = sys.argv, torch.get_num_threads()
    real_train = cpkit.protocols.train
    sys.argv = [str(script), str(store), str(tmp_path / "out.pt")]
    try:
        with caplog.at_level(logging.WARNING, logger="cpkit.protocols"):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
        torch.set_num_threads(threads)
        cpkit.protocols.train = real_train
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "cannot be read" in warnings[0]
    assert "\n" not in warnings[0]
    resumed = torch.load(tmp_path / "out.pt", weights_only=True)
    assert resumed["starts"] == [fallback] and fallback >= 2
    _same(resumed, expected)


def test_two_processes_on_one_sweep_train_it_once(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    store = tmp_path / "store"
    procs = [_start(script, store, tmp_path / f"out{i}.pt") for i in (0, 1)]
    for proc in procs:
        assert proc.wait() == 0, proc.stderr.read()
    outs = [
        torch.load(tmp_path / f"out{i}.pt", weights_only=True) for i in (0, 1)
    ]
    # one trained it, the other waited for the lock and read the result
    assert sorted(len(o["starts"]) for o in outs) == [0, 1]
    _same(outs[0], outs[1])
    assert len([p for p in store.glob("*.pt")]) == 1


def test_a_diverged_run_names_epoch_and_step_and_is_marked(
    tmp_path, monkeypatch
):
    import pytest

    import cpkit.training as training
    from cpkit import ConfigError
    from cpkit.protocols import (
        DataSpec,
        MeasureConfig,
        ModelSpec,
        Runner,
        RunStore,
    )
    from cpkit.training import TrainConfig

    real_loss, calls = training._step_loss, []

    def poisoned(*args, **kw):
        calls.append(1)
        loss = real_loss(*args, **kw)
        # 300 images in batches of 64: 5 steps per epoch; call 13 is
        # epoch 2, step 2
        return loss * float("nan") if len(calls) == 13 else loss

    monkeypatch.setattr(training, "_step_loss", poisoned)
    store = RunStore(tmp_path)
    runner = Runner(
        ModelSpec("sresnet18", 1 / 16),
        DataSpec("digits", n_train=300, n_test=100),
        TrainConfig(lr0=0.05, decay=0.8, batch_size=64),
        store=store,
        measure=MeasureConfig(n_conditioning=10, probe=False),
    )
    with pytest.raises(ConfigError, match=r"diverged at epoch 2, step 2 \("):
        runner.run(0, range(0, 6))
    failed = list(tmp_path.glob("*.failed.txt"))
    assert len(failed) == 1
    key = failed[0].name.split(".")[0]
    # the last good state (after epoch 1) is kept
    assert store.load_partial(key)["next_epoch"] == 2
    # asked again, the run is not retrained: the recorded reason comes back
    monkeypatch.setattr(
        "cpkit.protocols.train",
        lambda *a, **k: pytest.fail("a failed run was retrained"),
    )
    with pytest.raises(ConfigError, match="an earlier attempt; delete"):
        runner.run(0, range(0, 6))


def test_a_stored_run_says_what_decided_it_and_where_it_ran(tmp_path):
    import json

    import cpkit
    from cpkit.protocols import (
        DataSpec,
        MeasureConfig,
        ModelSpec,
        Runner,
        RunStore,
    )
    from cpkit.training import TrainConfig

    runner = Runner(
        ModelSpec("sresnet18", 1 / 16),
        DataSpec("digits", n_train=200, n_test=100),
        TrainConfig(lr0=0.05, decay=0.8, batch_size=64),
        store=RunStore(tmp_path),
        measure=MeasureConfig(n_conditioning=10, probe=False),
    )
    record = runner.run(3, range(0, 2))
    on_disk = torch.load(tmp_path / f"{record['key']}.pt", weights_only=True)
    meta = on_disk["meta"]
    run = json.loads(meta["run"])
    assert run["seed"] == 3 and run["epochs"] == [0, 2]
    assert run["config"]["lr0"] == 0.05 and run["model"]["arch"] == "sresnet18"
    assert meta["cpkit"] == cpkit.__version__ and meta["device"] == "cpu"
    assert meta["git"] is None or len(meta["git"]) == 40
    assert meta["seconds"] > 0 and meta["finished"].endswith("+00:00")
