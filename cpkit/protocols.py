"""The critical-period protocols of the stereo experiments (paper 2.4).

:class:`Runner` trains and measures runs of one experiment (model, data,
optimiser) and keeps every finished run in a :class:`RunStore`, keyed by
everything that determines it (including the source of the training
code), so a finished run is never recomputed and branches reuse their
main run's checkpoints.

- :meth:`Runner.removal_sweep`: the deficit-removal protocol. One main
  run with the deficit throughout, checkpoints at the start of every
  removal epoch k (checkpoint k = k deficit epochs); one branch per k,
  resumed from checkpoint k with fresh optimiser state and trained
  ``clean_epochs`` clean epochs (k+1 .. k+clean_epochs, the paper's
  179). Its LR follows the absolute epoch (the paper), or restarts at k
  (``branch_lr="restart"``, lr0 * decay**(epoch - k)), a control for lost
  plasticity. ``deficit="none"`` gives the sham main run.
- :meth:`Runner.window_sweep`: a fixed-length deficit window at several
  onsets s, each followed by the same number of clean recovery epochs.
  A no-deficit base run keeps checkpoints at every onset; from checkpoint
  s two branches train epochs s .. s+length+recovery-1, one with the
  deficit in [s, s+length), one without (the sham), with the same data
  order. The drop at s is sham minus window accuracy, so a late window
  is not penalised for having less time to recover.

Each result row holds the metric the paper plots (mean test accuracy of
the last 5 epochs), the accuracy curve, the probe accuracy, single-view
accuracies and losses, and the RSV histogram of the final network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import functools
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import cpkit
from cpkit.config import (
    check_choice,
    check_int,
    cpu_threads,
    resolve_device,
)
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError, TrainingDiverged
from cpkit.metrics.network import (
    linear_probe,
    network_rsv,
    usable_information,
)
from cpkit.metrics.rsv import PAPER_BIN_EDGES, histogram
from cpkit.models import build_model
from cpkit.training import (
    TrainConfig,
    TrainLog,
    clone_model,
    evaluate,
    reestimate_bn,
    train,
)
from cpkit.twoview import TwoViewData, load_two_view

logger = logging.getLogger(__name__)
BRANCH_LR = ("absolute", "restart")
BOTH_HEAD = ("as_trained", "mean_of_views")
#: the modules whose source decides a run's result (part of its key)
_CODE = (
    "models",
    "training",
    "twoview",
    "views",
    "deficits",
    "protocols",
    "sources",
    "config",
)


def _code_digest() -> str:
    root = Path(cpkit.__file__).parent
    h = hashlib.sha256()
    for name in _CODE + ("metrics/network", "metrics/rsv"):
        h.update((root / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def _git_commit() -> str | None:
    """The commit of the cpkit checkout, if it is one (else None)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(cpkit.__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass(frozen=True)
class ModelSpec:
    """Which two-pathway network (see :func:`cpkit.models.build_model`)."""

    arch: str = "sresnet18"
    width: float = 1.0
    heads: str = "single"
    n_blocks: int = 2


@dataclass(frozen=True)
class DataSpec:
    """Which data (see :func:`cpkit.twoview.load_two_view`)."""

    source: str = "mnist5k"
    image_size: int | None = None
    view_size: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    cifar_path: str | None = None

    def load(self, device: torch.device | str) -> TwoViewData:
        return load_two_view(
            self.source,
            view_size=self.view_size,
            image_size=self.image_size,
            n_train=self.n_train,
            n_test=self.n_test,
            cifar_path=self.cifar_path,
            device=device,
        )


@torch.no_grad()
def _heads_to_mean(model: torch.nn.Module) -> None:
    """Set the fused head to the mean of the single-view heads."""
    if "a" not in model.head_names:
        raise ConfigError("both_head = 'mean_of_views' needs heads = 'multi'")
    heads = model.heads
    for name in ("weight", "bias"):
        mean = (getattr(heads["a"], name) + getattr(heads["b"], name)) / 2
        getattr(heads["both"], name).copy_(mean)


class RunStore:
    """Finished runs on disk (one ``<key>.pt`` each), or in memory.

    Files are written to a temporary name and renamed, so an interrupted
    write never leaves a half file under a run's key.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = None if root is None else Path(root)
        self._memory: dict[str, dict] = {}
        if self.root is not None:
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(f"results_dir {self.root} is not a folder")
            self.root.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict | None:
        if key in self._memory:
            return self._memory[key]
        path = None if self.root is None else self.root / f"{key}.pt"
        if path is not None and path.is_file():
            try:
                record = torch.load(path, weights_only=True)
            except Exception as err:  # truncated, empty, not torch
                raise ConfigError(
                    f"stored run {path} cannot be read ({type(err).__name__})"
                    ": delete that file to recompute the run"
                ) from None
            self._memory[key] = record
            return record
        return None

    def put(self, key: str, record: dict) -> None:
        self._memory[key] = record
        if self.root is not None:
            self._write(self.root / f"{key}.pt", record)
            for path in self._partials(key):
                path.unlink(missing_ok=True)

    def _write(self, path: Path, obj: object) -> None:
        """torch.save to a temporary file, flushed, then renamed."""
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=".tmp", dir=self.root
        )
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(obj, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold ``key`` against other processes training the same run."""
        if self.root is None:
            yield
            return
        with open(self.root / f".{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def failed(self, key: str) -> str | None:
        """Why an earlier attempt at this run failed, if one did."""
        if self.root is None:
            return None
        path = self.root / f"{key}.failed.txt"
        if not path.is_file():
            return None
        return (
            f"{path.read_text().strip()} (an earlier attempt; delete {path} "
            "to try again)"
        )

    def mark_failed(self, key: str, message: str) -> None:
        """Record why a run failed; its last complete state is kept."""
        if self.root is not None:
            (self.root / f"{key}.failed.txt").write_text(message + "\n")

    # ---- unfinished runs: the state after the last complete epoch ------

    def _partials(self, key: str) -> tuple[Path, Path]:
        assert self.root is not None
        return (
            self.root / f"{key}.partial.pt",
            self.root / f"{key}.partial.prev.pt",
        )

    def save_partial(self, key: str, state: dict) -> None:
        """Keep a run's state; the one before stays as a fallback."""
        if self.root is None:
            return
        current, previous = self._partials(key)
        if current.exists():
            os.replace(current, previous)
        self._write(current, state)

    def load_partial(self, key: str) -> dict | None:
        """The newest readable state of an unfinished run, or None.

        A state that cannot be read is reported in one line and the one
        before it is used.
        """
        if self.root is None:
            return None
        for path in self._partials(key):
            if not path.is_file():
                continue
            try:
                return torch.load(path, weights_only=True)
            except Exception as err:  # truncated, empty, not torch
                logger.warning(
                    "unfinished run %s cannot be read (%s): using the "
                    "state before it",
                    path,
                    type(err).__name__,
                )
        return None


@dataclass(frozen=True)
class MeasureConfig:
    """What is measured on every final network."""

    n_conditioning: int = 100  # RSV conditioning images (paper: 100)
    rsv_images: int | None = None  # test images varied (default: all)
    probe: bool = True  # linear probe on the fused features
    single_view: bool = True  # accuracy and loss from one view alone

    def __post_init__(self) -> None:
        check_int("n_conditioning", self.n_conditioning, minimum=2)
        if self.rsv_images is not None:
            check_int("rsv_images", self.rsv_images, minimum=2)


class Runner:
    """Trains, measures and remembers the runs of one experiment."""

    def __init__(
        self,
        model: ModelSpec,
        data: DataSpec,
        config: TrainConfig,
        device: torch.device | str = "cpu",
        store: RunStore | None = None,
        measure: MeasureConfig | None = None,
        progress: bool = False,
    ) -> None:
        self.model_spec, self.data_spec, self.config = model, data, config
        self.device = (
            resolve_device(device) if isinstance(device, str) else device
        )
        self.data = data.load(self.device)
        self.store = store or RunStore()
        self.measure_config = measure or MeasureConfig()
        self.progress = progress
        self._code = _code_digest()
        self.new_model(0)  # fail early on a bad model spec
        measured = len(self.data.x_test)
        if self.measure_config.rsv_images is not None:
            measured = min(measured, self.measure_config.rsv_images)
        if self.measure_config.n_conditioning > measured:
            raise ConfigError(
                f"n_conditioning = {self.measure_config.n_conditioning} "
                f"exceeds the {measured} test images measured: lower it"
            )

    def new_model(self, seed: int) -> torch.nn.Module:
        """The network at initialisation for ``seed``."""
        torch.manual_seed(seed)
        spec = self.model_spec
        return build_model(
            spec.arch,
            self.data.in_channels,
            self.data.classes,
            spec.width,
            spec.heads,
            spec.n_blocks,
        ).to(self.device)

    def _key(self, **run: object) -> str:
        text = json.dumps(self._payload(**run), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _payload(self, **run: object) -> dict:
        """Everything that decides a run: its key is a hash of this."""
        return {
            "model": dataclasses.asdict(self.model_spec),
            "data": dataclasses.asdict(self.data_spec),
            "config": dataclasses.asdict(self.config),
            "measure": dataclasses.asdict(self.measure_config),
            "code": self._code,
            # bf16 on CUDA, float32 elsewhere; results differ across them
            "device": self.device.type,
            "threads": cpu_threads(self.device),
            "torch": torch.__version__.split("+")[0],
            **run,
        }

    def run(
        self,
        seed: int,
        epochs: range,
        deficit: DeficitWindow | None = None,
        restart_at: int | None = None,
        parent: tuple[str, int] | None = None,
        checkpoints: Iterable[int] = (),
        config: TrainConfig | None = None,
        both_head: str = "as_trained",
    ) -> dict:
        """One run (cached): train, then measure the final network.

        ``parent``: (key of a stored run, k) to start from its checkpoint
        k; None starts from the initialisation of ``seed``.
        ``both_head``: ``as_trained`` keeps the parent's fused head;
        ``mean_of_views`` starts it as the mean of the single-view heads
        (after a dissociation the fused head was never trained).
        """
        check_choice("both_head", both_head, BOTH_HEAD)
        seed = check_int("seed", seed, minimum=0)
        config = config or self.config
        deficit = deficit or DeficitWindow()
        checkpoints = tuple(sorted(set(checkpoints)))
        described = dict(
            seed=seed,
            epochs=[epochs.start, epochs.stop],
            deficit=dataclasses.asdict(deficit),
            restart_at=restart_at,
            parent=parent,
            checkpoints=checkpoints,
            config=dataclasses.asdict(config),
            both_head=both_head,
        )
        key = self._key(**described)
        record = self.store.get(key)
        if record is not None:
            return record
        with self.store.lock(key):
            # another process may have finished it while this one waited
            record = self.store.get(key)
            if record is not None:
                return record
            failure = self.store.failed(key)
            if failure is not None:
                raise ConfigError(failure)
            return self._train_and_measure(
                key,
                described,
                seed,
                epochs,
                deficit,
                restart_at,
                parent,
                checkpoints,
                config,
                both_head,
            )

    def _train_and_measure(
        self,
        key: str,
        described: dict,
        seed: int,
        epochs: range,
        deficit: DeficitWindow,
        restart_at: int | None,
        parent: tuple[str, int] | None,
        checkpoints: tuple[int, ...],
        config: TrainConfig,
        both_head: str,
    ) -> dict:
        started = time.perf_counter()
        model = self.new_model(seed)
        if parent is not None:
            source = self.store.get(parent[0])
            if source is None or parent[1] not in source["checkpoints"]:
                raise ConfigError(f"no checkpoint {parent[1]} in run {parent}")
            model.load_state_dict(source["checkpoints"][parent[1]])
            if both_head == "mean_of_views":
                _heads_to_mean(model)
        generator = torch.Generator().manual_seed(
            seed * 100_003 + epochs.start
        )
        try:
            log, saved = train(
                model,
                self.data,
                config,
                epochs,
                generator,
                deficit=deficit,
                restart_at=restart_at,
                checkpoints=checkpoints,
                progress=self.progress,
                # a killed run resumes after its last complete epoch
                resume=self.store.load_partial(key),
                on_epoch=None
                if self.store.root is None
                else lambda state: self.store.save_partial(key, state),
            )
        except TrainingDiverged as err:
            self.store.mark_failed(key, str(err))
            raise
        record = {
            "key": key,
            "seed": seed,
            "log": log.as_dict(),
            "checkpoints": saved,
            "metrics": self.measure(model),
        }
        record["meta"] = {
            # what decided the run (the key hashes this), and where and
            # when it ran; JSON text, so the record loads weights-only
            "run": json.dumps(self._payload(**described), default=str),
            "cpkit": cpkit.__version__,
            "git": _git_commit(),
            "device": str(self.device),
            "seconds": time.perf_counter() - started,
            "finished": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        self.store.put(key, record)
        return record

    def measure(self, model: torch.nn.Module) -> dict:
        """Probe, single-view and RSV measurements of a trained network."""
        m = self.measure_config
        precision = self.config.precision
        out: dict[str, object] = {}
        if m.single_view:
            for view in ("a", "b"):
                acc, loss = evaluate(
                    model, self.data, view=view, precision=precision
                )
                out[f"acc_{view}"] = acc
                out[f"info_{view}"] = usable_information(
                    loss, self.data.classes
                )
            acc, loss = evaluate(model, self.data, precision=precision)
            out["info_both"] = usable_information(loss, self.data.classes)
        if m.probe:
            out["probe"] = linear_probe(model, self.data)
        # the paper re-estimates BN on clean data before measuring RSV;
        # do it on a copy so the stored network is the trained one
        measured = clone_model(model)
        reestimate_bn(measured, self.data, precision=precision)
        rsv = network_rsv(
            measured, self.data, m.n_conditioning, n_images=m.rsv_images
        )
        fractions, nan = histogram(rsv, PAPER_BIN_EDGES)
        finite = rsv[np.isfinite(rsv)]
        out.update(
            rsv_hist=fractions.tolist(),
            rsv_nan=nan,
            rsv_mean=float(finite.mean()) if len(finite) else float("nan"),
            rsv_abs_mean=float(np.abs(finite).mean())
            if len(finite)
            else float("nan"),
        )
        return out

    # ---- protocols ------------------------------------------------------

    def removal_sweep(
        self,
        seed: int,
        deficit: str,
        removal_epochs: Sequence[int],
        clean_epochs: int,
        branch_lr: str = "absolute",
        config: TrainConfig | None = None,
        both_head: str = "as_trained",
        main_checkpoints: Sequence[int] = (),
    ) -> list[dict]:
        """Rows of the deficit-removal protocol for one seed (see module).

        ``both_head`` applies to branches with k > 0 (see :meth:`run`).
        ``main_checkpoints``: extra checkpoints for the main run, so that
        sweeps over different k share it.
        """
        check_choice("deficit", deficit, ("none", "blur", "dissociation"))
        check_choice("branch_lr", branch_lr, BRANCH_LR)
        check_choice("both_head", both_head, BOTH_HEAD)
        if both_head == "mean_of_views" and self.model_spec.heads != "multi":
            raise ConfigError(
                "both_head = 'mean_of_views' needs heads = 'multi'"
            )
        if deficit == "dissociation" and self.model_spec.heads != "multi":
            raise ConfigError(
                "deficit = 'dissociation' needs a model with heads = 'multi'"
            )
        clean_epochs = check_int("clean_epochs", clean_epochs, minimum=5)
        ks = sorted(
            {check_int("removal epoch", k, minimum=0) for k in removal_epochs}
        )
        if not ks:
            raise ConfigError("removal_epochs is empty")
        config = config or self.config
        last = ks[-1]
        main = None
        if last > 0:
            # one main run serves every protocol that shares its deficit
            # and schedule: it keeps the checkpoints all of them need
            wanted = sorted(set(ks) | set(main_checkpoints))
            if wanted[-1] > last:
                raise ConfigError(
                    f"main_checkpoints {wanted} go past the main run's "
                    f"{last} epochs"
                )
            main = self.run(
                seed,
                range(0, last),
                DeficitWindow(deficit, 0, last, last),
                checkpoints=wanted,
                config=config,
            )
        rows = []
        for k in ks:
            # checkpoint 0 is the initialisation: k = 0 branches are shared
            parent = None if k == 0 else (main["key"], k)
            branch = self.run(
                seed,
                range(k + 1, k + 1 + clean_epochs),
                # at k = 0 a restarted LR is the absolute one: one run
                restart_at=k if branch_lr == "restart" and k > 0 else None,
                parent=parent,
                config=config,
                both_head=both_head if k > 0 else "as_trained",
            )
            rows.append(self._row(branch, seed=seed, k=k))
        return rows

    def window_sweep(
        self,
        seed: int,
        deficit: str,
        onsets: Sequence[int],
        length: int,
        recovery: int,
        config: TrainConfig | None = None,
    ) -> list[dict]:
        """Rows of the sliding-window protocol for one seed (see module).

        Each row: the window branch's metrics, ``sham_acc`` (same start,
        no deficit) and ``drop`` = sham_acc - acc, both last-5 means at
        epoch onset + length + recovery.
        """
        check_choice("deficit", deficit, ("blur", "dissociation"))
        if deficit == "dissociation" and self.model_spec.heads != "multi":
            raise ConfigError(
                "deficit = 'dissociation' needs a model with heads = 'multi'"
            )
        length = check_int("window length", length, minimum=1)
        recovery = check_int("recovery epochs", recovery, minimum=5)
        starts = sorted(
            {check_int("window onset", s, minimum=0) for s in onsets}
        )
        if not starts:
            raise ConfigError("window onsets are empty")
        config = config or self.config
        base = None
        if starts[-1] > 0:
            base = self.run(
                seed,
                range(0, starts[-1]),
                checkpoints=[s for s in starts if s > 0],
                config=config,
            )
        rows = []
        for s in starts:
            stop = s + length + recovery
            parent = None if s == 0 else (base["key"], s)
            window = DeficitWindow(deficit, s, length, stop)
            hit = self.run(
                seed, range(s, stop), window, parent=parent, config=config
            )
            sham = self.run(seed, range(s, stop), parent=parent, config=config)
            row = self._row(hit, seed=seed, onset=s)
            row["sham_acc"] = TrainLog(**sham["log"]).last_mean(5)
            row["sham_curve"] = list(sham["log"]["test_acc"])
            row["drop"] = row["sham_acc"] - row["acc"]
            rows.append(row)
        return rows

    @staticmethod
    def _row(record: dict, **fields: object) -> dict:
        log = TrainLog(**record["log"])
        return {
            **fields,
            "acc": log.last_mean(5),
            "curve": list(log.test_acc),
            "epochs": list(log.epochs),
            **record["metrics"],
        }
