"""One training loop for every two-pathway network (paper 2.4, A.5-A.6).

SGD with momentum and weight decay; the learning rate is a function of
the **absolute** epoch, ``lr0 * decay**epoch``, as in the paper's code, so
a branch resumed late trains at the small LR the schedule has reached
(``restart_at`` restarts it instead; ``lr_mode="constant"`` holds lr0).
A deficit window says in which epochs view b is blurred or dissociated;
evaluation is on clean test data unless asked. Checkpoints are taken at
the *start* of chosen epochs, so checkpoint k holds exactly k epochs of
training. On CUDA the loop uses bf16 autocast and channels-last;
``precision="bf16"`` also autocasts on a CPU (fast where it has AMX);
``compile=True`` runs the training forward pass through ``torch.compile``
(compiled once per architecture and input shape in a process; the
dissociation deficit's single-view heads, evaluation and BN passes stay
eager).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from cpkit.config import check_choice, check_float, check_int
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError, TrainingDiverged
from cpkit.models import TwoViewNet
from cpkit.twoview import TwoViewData, check_rand_zero, make_views

LR_MODES = ("decay", "constant")
DISSOCIATION_LOSSES = ("code", "paper")
EVAL_VIEWS = ("both", "a", "b")
#: "auto": bf16 autocast on CUDA, float32 elsewhere
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and data settings of one run (defaults: paper's blur)."""

    lr0: float = 0.075  # initial learning rate (dissociation: 0.05)
    decay: float = 0.97  # per-epoch LR factor, on the absolute epoch
    lr_mode: str = "decay"  # "decay" or "constant" (lr0 throughout)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    augment: bool = True  # shared pad-crop(-flip) of both views
    rand_zero: float = 0.0  # zero view a (or b) with this probability
    dissociation_loss: str = "code"  # "code": random head per batch
    bn_dry_run: bool = False  # re-estimate BN statistics every epoch
    eval_batch: int = 500
    precision: str = "auto"  # "auto" (bf16 on CUDA only), "fp32", "bf16"
    compile: bool = False  # torch.compile the training forward pass

    def __post_init__(self) -> None:
        check_float("lr0", self.lr0, minimum=0.0, strict=True)
        check_float("decay", self.decay, minimum=0.0, strict=True)
        if self.decay > 1:
            raise ConfigError(f"decay = {self.decay:g} must be <= 1")
        check_choice("lr_mode", self.lr_mode, LR_MODES)
        if not 0 <= check_float("momentum", self.momentum) < 1:
            raise ConfigError(
                f"momentum = {self.momentum:g} must be in [0, 1)"
            )
        for name in ("augment", "bn_dry_run", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} = {getattr(self, name)!r} must be True or False"
                )
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_rand_zero(self.rand_zero)
        check_choice(
            "dissociation_loss", self.dissociation_loss, DISSOCIATION_LOSSES
        )
        check_int("eval_batch", self.eval_batch, minimum=1)
        check_choice("precision", self.precision, PRECISIONS)

    def lr(self, epoch: int, restart_at: int | None = None) -> float:
        """LR of ``epoch``: lr0 * decay**(epoch - restart_at or 0)."""
        if self.lr_mode == "constant":
            return self.lr0
        start = 0 if restart_at is None else restart_at
        return self.lr0 * self.decay ** (epoch - start)


@dataclass
class TrainLog:
    """Per-epoch record of a run (epochs are absolute indices)."""

    epochs: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)  # percent
    test_loss: list[float] = field(default_factory=list)  # nats
    deficit: list[bool] = field(default_factory=list)

    def last_mean(self, n: int = 5) -> float:
        """Mean test accuracy of the last ``n`` epochs (paper's metric)."""
        n = check_int("n", n, minimum=1)
        if len(self.test_acc) < n:
            raise ConfigError(
                f"the run logged {len(self.test_acc)} epochs, fewer than "
                f"the {n} the metric averages"
            )
        return float(sum(self.test_acc[-n:]) / n)

    def as_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}


def _autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast on CUDA ("auto" or "bf16"), or anywhere ("bf16")."""
    check_choice("precision", precision, PRECISIONS)
    on = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)


def _prepare(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cuda":
        return x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def evaluate(
    model: TwoViewNet,
    data: TwoViewData,
    view: str = "both",
    deficit: str = "none",
    batch_size: int = 500,
    head: str = "both",
    precision: str = "auto",
) -> tuple[float, float]:
    """Test accuracy (percent) and mean cross-entropy (nats).

    ``view``: ``both``, or ``a`` / ``b`` alone with the other view set to
    zero (the single-view inputs of the usable-information curves).
    ``deficit``: ``none`` (clean, the default) or ``blur`` on view b.
    """
    check_choice("view", view, EVAL_VIEWS)
    check_choice("deficit", deficit, ("none", "blur"))
    model.eval()
    device = data.x_test.device
    gen = torch.Generator().manual_seed(0)
    correct, loss, n = 0, 0.0, 0
    for x, y in data.batches(batch_size, gen, train=False):
        x_a, x_b, y, _ = make_views(x, y, data.view_size, deficit, gen)
        if view == "a":
            x_b = torch.zeros_like(x_b)
        elif view == "b":
            x_a = torch.zeros_like(x_a)
        with _autocast(device, precision):
            logits = model(_prepare(x_a), _prepare(x_b), head=head).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return 100.0 * correct / n, loss / n


@torch.no_grad()
def reestimate_bn(
    model: nn.Module,
    data: TwoViewData,
    batch_size: int = 500,
    precision: str = "auto",
) -> None:
    """Recompute BN running statistics on clean, unaugmented train views.

    The paper re-estimates BN this way before measuring RSV (and after
    every epoch in its blur runs, ``bn_dry_run``).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    model.train()
    gen = torch.Generator().manual_seed(0)
    device = data.x_train.device
    for x, y in data.batches(batch_size, gen, train=True, augmented=False):
        x_a, x_b, _, _ = make_views(x, y, data.view_size, "none", gen)
        with _autocast(device, precision):
            model.units(_prepare(x_a), _prepare(x_b))
    for m, momentum in zip(bns, saved, strict=True):
        m.momentum = momentum
    model.eval()


def _step_loss(
    model: TwoViewNet,
    fused: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    y: torch.Tensor,
    from_b: torch.Tensor | None,
    config: TrainConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """Cross-entropy of one batch; dissociated batches train view heads."""
    if from_b is None:
        return F.cross_entropy(fused(x_a, x_b).float(), y)
    feats = model.features(x_a, x_b)
    if config.dissociation_loss == "code":
        # the released code: one single-view head per batch, at random,
        # on the mixed labels
        head = "a" if torch.rand((), generator=generator) < 0.5 else "b"
        return F.cross_entropy(model.heads[head](feats).float(), y)
    # the paper's text: each head on the samples whose label its view shows
    loss_a = F.cross_entropy(
        model.heads["a"](feats).float(), y, reduction="none"
    )
    loss_b = F.cross_entropy(
        model.heads["b"](feats).float(), y, reduction="none"
    )
    return torch.where(from_b, loss_b, loss_a).mean()


Callback = Callable[[int, TrainLog, TwoViewNet], None]


def train(
    model: TwoViewNet,
    data: TwoViewData,
    config: TrainConfig,
    epochs: range,
    generator: torch.Generator,
    deficit: DeficitWindow | None = None,
    restart_at: int | None = None,
    checkpoints: Iterable[int] = (),
    callbacks: Iterable[Callback] = (),
    progress: bool = False,
    log: TrainLog | None = None,
    resume: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[TrainLog, dict[int, dict[str, torch.Tensor]]]:
    """Train ``model`` for the absolute ``epochs`` (a range).

    Returns the log and the checkpoints: for each requested k in
    ``epochs`` (or k = the end of the range), the weights at the start of
    epoch k. A fresh optimiser is made here, so resuming from a checkpoint
    restores weights only, as the paper's branches did.

    ``on_epoch(state)`` receives after every epoch everything needed to
    continue exactly (weights, optimiser, both random streams, log,
    checkpoints); ``resume=state`` continues from it, so an interrupted
    run ends bit-identical to an uninterrupted one on CPU.
    """
    if not isinstance(epochs, range) or epochs.step != 1 or not epochs:
        raise ConfigError(f"epochs = {epochs!r} must be a non-empty range")
    deficit = deficit or DeficitWindow()
    if deficit.kind != "none" and deficit.length > 0:
        end = deficit.onset + deficit.length
        if deficit.onset < epochs.start or end > epochs.stop:
            raise ConfigError(
                f"deficit window [{deficit.onset}, {end}) is not inside the "
                f"run's epochs {epochs.start}..{epochs.stop}"
            )
    if deficit.kind == "dissociation" and "a" not in model.head_names:
        raise ConfigError(
            "deficit = 'dissociation' needs a model with heads = 'multi'"
        )
    wanted = set(checkpoints)
    outside = sorted(k for k in wanted if not epochs.start <= k <= epochs.stop)
    if outside:
        raise ConfigError(
            f"checkpoints {outside} are outside the run's epochs "
            f"{epochs.start}..{epochs.stop}"
        )
    device = data.x_train.device
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=config.lr(epochs.start, restart_at),
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    fused = model
    if config.compile:
        # graphs are cached by code and guards, so later runs of the same
        # architecture (new weights, same shapes) reuse the compilation
        fused = torch.compile(model)
    log = log or TrainLog()
    saved: dict[int, dict[str, torch.Tensor]] = {}
    # the deficit's own draws (dissociation pairs, the code's random head)
    # come from a second stream, so that a run with a deficit window and
    # one without see the same batches, crops and view zeroing
    mixing = torch.Generator().manual_seed(
        (generator.initial_seed() + 0x9E3779B97F4A7C15) % 2**63
    )
    if resume is not None:
        first = resume["next_epoch"]
        if not epochs.start < first <= epochs.stop:
            raise ConfigError(
                f"resume state at epoch {first} does not fit the run's "
                f"epochs {epochs.start}..{epochs.stop}"
            )
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        mixing.set_state(resume["mixing"])
        log = TrainLog(**resume["log"])
        saved.update(resume["saved"])
        epochs = range(first, epochs.stop)

    def snapshot() -> dict[str, torch.Tensor]:
        return {
            k: v.detach().to("cpu", copy=True).contiguous()
            for k, v in model.state_dict().items()
        }

    iterator = epochs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(epochs, desc="epochs", leave=False)
    for epoch in iterator:
        # checkpoint k: the weights before epoch k (k epochs of training)
        if epoch in wanted:
            saved[epoch] = snapshot()

        # LR of this absolute epoch; the deficit only inside its window
        lr = config.lr(epoch, restart_at)
        for group in opt.param_groups:
            group["lr"] = lr
        active = deficit.active(epoch)
        kind = deficit.kind if active else "none"

        # one pass over the shuffled, augmented training set
        model.train()
        total = torch.zeros((), device=device)  # summed on the device:
        count = 0  # no host sync per step
        bad_step = torch.full((), -1, device=device)  # first non-finite
        for step, (x, y) in enumerate(
            data.batches(
                config.batch_size, generator, augmented=config.augment
            )
        ):
            x_a, x_b, y, from_b = make_views(
                x, y, data.view_size, kind, generator, config.rand_zero, mixing
            )
            with _autocast(device, config.precision):
                loss = _step_loss(
                    model,
                    fused,
                    _prepare(x_a),
                    _prepare(x_b),
                    y,
                    from_b,
                    config,
                    mixing,
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(y)
            count += len(y)
            first_bad = (bad_step < 0) & ~torch.isfinite(loss.detach())
            bad_step = torch.where(first_bad, step, bad_step)
        train_loss = total.item() / count
        if not math.isfinite(train_loss):
            where = f"epoch {epoch}"
            if int(bad_step) >= 0:
                where += f", step {int(bad_step)}"
            raise TrainingDiverged(
                f"training diverged at {where} (loss {train_loss}): "
                f"lower lr0 = {config.lr0:g}"
            )

        # clean test accuracy, logged per epoch (the last 5 make the metric)
        if config.bn_dry_run:
            reestimate_bn(model, data, config.eval_batch, config.precision)
        acc, test_loss = evaluate(
            model,
            data,
            batch_size=config.eval_batch,
            precision=config.precision,
        )
        log.epochs.append(epoch)
        log.lr.append(lr)
        log.train_loss.append(train_loss)
        log.test_acc.append(acc)
        log.test_loss.append(test_loss)
        log.deficit.append(active)
        if progress:
            iterator.set_postfix(acc=f"{acc:.1f}")
        for callback in callbacks:
            callback(epoch, log, model)
        if on_epoch is not None:
            on_epoch(
                {
                    "next_epoch": epoch + 1,
                    "model": snapshot(),
                    "optimizer": opt.state_dict(),
                    "generator": generator.get_state(),
                    "mixing": mixing.get_state(),
                    "log": log.as_dict(),
                    "saved": dict(saved),
                }
            )
    if epochs.stop in wanted:
        saved[epochs.stop] = snapshot()
    return log, saved


def clone_model(model: nn.Module) -> nn.Module:
    """A deep copy (for branches that must not touch the parent)."""
    return copy.deepcopy(model)
