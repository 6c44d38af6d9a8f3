"""Several processes on one sweep, sharing a results folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpkit import ConfigError, workers
from cpkit.cli import main

ROOT = Path(__file__).resolve().parent.parent

# one process of a shared sweep: counts the runs it trains itself
WORKER = """
import json, sys
import torch
torch.set_num_threads(1)
import cpkit.protocols as protocols
from cpkit.protocols import DataSpec, MeasureConfig, ModelSpec, Runner
from cpkit.protocols import RunStore
from cpkit.removal_report import Protocol, RemovalStudy
from cpkit.training import TrainConfig

trained = []
real_train = protocols.train
def counting(*args, **kw):
    trained.append(1)
    return real_train(*args, **kw)
protocols.train = counting
store = None if sys.argv[1] == "-" else RunStore(sys.argv[1])
runner = Runner(
    ModelSpec("sresnet18", 1 / 16),
    DataSpec("digits", n_train=200, n_test=100),
    TrainConfig(lr0=0.05, decay=0.8, batch_size=50),
    "cpu",
    store,
    MeasureConfig(n_conditioning=10, probe=False),
)
study = RemovalStudy.run(
    runner, {"blur": Protocol("blur", (0, 2))}, [0, 1, 2], 5
)
print(json.dumps({
    "trained": len(trained),
    "rows": [[r["seed"], r["k"], r["acc"]] for r in study.rows],
}))
"""


def test_worker_order_rotates_and_results_keep_seed_order(monkeypatch):
    seeds = [10, 11, 12, 13]
    monkeypatch.delenv(workers.ENV, raising=False)
    assert workers.order(seeds) == seeds
    monkeypatch.setenv(workers.ENV, "1/2")
    assert workers.order(seeds) == [12, 13, 10, 11]
    monkeypatch.setenv(workers.ENV, "2/3")
    assert workers.order(seeds) == [12, 13, 10, 11]
    walked = []
    out = workers.per_seed(seeds, lambda s: walked.append(s) or s * 2)
    assert walked == [12, 13, 10, 11] and out == [20, 22, 24, 26]
    for bad in ("2/2", "x", "1/0", "-1/3", "1/2/3"):
        monkeypatch.setenv(workers.ENV, bad)
        with pytest.raises(ConfigError, match="worker"):
            workers.order(seeds)


def test_two_workers_train_every_run_once_and_agree(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    store = tmp_path / "runs"

    def start(env_value, folder):
        env = dict(os.environ, **{workers.ENV: env_value})
        return subprocess.Popen(
            [sys.executable, str(script), folder],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    procs = [start(f"{i}/2", str(store)) for i in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    # 3 seeds x (main run + branches k = 0 and k = 2): nine runs in all,
    # each trained by exactly one of the two processes
    finished = [p for p in store.glob("*.pt") if ".partial" not in p.name]
    assert len(finished) == 9
    assert sum(r["trained"] for r in results) == 9
    # both end with every seed's rows, in seed order, equal to one process
    # that trained everything alone (CPU runs are deterministic)
    alone = subprocess.run(
        [sys.executable, str(script), "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    expected = json.loads(alone.stdout.strip().splitlines()[-1])["rows"]
    assert [row[0] for row in expected] == [0, 0, 1, 1, 2, 2]
    assert results[0]["rows"] == results[1]["rows"] == expected


def test_cli_worker_needs_a_shared_folder(capsys):
    assert main(["notebooks", "--worker", "0/2", "--only", "intro"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "cpkit: error: --worker needs --results-dir: the folder the "
        "workers share"
    )
    assert main(["notebooks", "--worker", "3/2", "--only", "intro"]) == 2
    assert "worker = '3/2'" in capsys.readouterr().err
