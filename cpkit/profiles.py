"""Named configurations of each chapter: ``quick`` (CPU) and ``full``.

A notebook asks for its chapter's profile by name and may override a few
fields from its papermill parameters; every value is validated here, so a
bad parameter fails with one line that names it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cpkit.config import check_choice, check_float, check_int, check_window
from cpkit.errors import ConfigError
from cpkit.theory.matrix_completion import CompletionConfig

PROFILES = ("quick", "full")


def _check_tuple(name: str, values: object) -> tuple:
    """A non-empty tuple or list, else a one-line error naming it."""
    if not isinstance(values, (tuple, list)) or len(values) == 0:
        raise ConfigError(f"{name} = {values!r} must be a non-empty tuple")
    return tuple(values)


@dataclass(frozen=True)
class SensorDroppingProfile:
    """Fig. 2: deep vs shallow linear nets with a sensor dropped."""

    a0: float = 1e-4  # initial strength of every task mode (paper: 1e-4)
    lr: float = 0.01  # learning rate = gradient-flow time per step
    steps: int = 1000  # gradient steps (paper's x axis: 0-1000)
    hidden: int = 16  # hidden units of the deep network
    dropped_sensor: int = 3  # sensor removed, 1-based (paper: sensor 3)
    task: int = 5  # task row plotted, 1-based (paper: task 5)
    a0_values: tuple[float, ...] = (1e-6, 1e-4, 1e-2)  # slider of a0

    def __post_init__(self) -> None:
        check_float("a0", self.a0, minimum=0.0, strict=True)
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_int("steps", self.steps, minimum=1)
        check_int("hidden", self.hidden, minimum=5)
        if not 1 <= check_int("dropped_sensor", self.dropped_sensor) <= 8:
            raise ConfigError(
                f"dropped_sensor = {self.dropped_sensor} is not in 1..8"
            )
        if not 1 <= check_int("task", self.task) <= 5:
            raise ConfigError(f"task = {self.task} is not in 1..5")
        for v in _check_tuple("a0_values", self.a0_values):
            check_float("a0_values", v, minimum=0.0, strict=True)


@dataclass(frozen=True)
class PathwayProfile:
    """Pathway competition in two-pathway deep linear networks."""

    singular_values: tuple[float, ...] = (3.0, 2.0, 1.0)  # GD-vs-ODE task
    sigma: float = 1.0  # singular value of the one-mode sweeps
    depth: int = 4  # layers per pathway in the single-depth figures
    init_scale: float = 1e-3  # initial pathway singular value K
    total_time: float = 60.0  # training budget, gradient-flow time
    dt: float = 0.02  # learning rate (= ODE step)
    gd_dt: float = 0.01  # learning rate of the real GD runs
    deficit_onset: float = 0.0  # early gate on pathway b (time)
    deficit_length: float = 10.0  # gate length (time)
    n_onsets: int = 21  # onsets of the sliding window, 0 .. T - length
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8)  # depth sweep
    init_scales: tuple[float, ...] = (1e-4, 1e-3, 1e-2)  # init sweep
    deficit_lengths: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0)
    noise: float = 1.0  # noise variance of each sensor (noisy task)
    n_traces: int = 40  # random initialisations in a phase portrait
    trace_spread: float = 1.0  # log-normal spread of those inits
    record_every: int = 10  # steps between recorded points

    def __post_init__(self) -> None:
        for v in _check_tuple("singular_values", self.singular_values):
            check_float("singular_values", v, minimum=0.0, strict=True)
        check_float("sigma", self.sigma, minimum=0.0, strict=True)
        check_int("depth", self.depth, minimum=1)
        check_float("init_scale", self.init_scale, minimum=0.0, strict=True)
        check_float("total_time", self.total_time, minimum=0.0, strict=True)
        check_float("dt", self.dt, minimum=0.0, strict=True)
        check_float("gd_dt", self.gd_dt, minimum=0.0, strict=True)
        for name in ("dt", "gd_dt"):
            if getattr(self, name) >= self.total_time / 10:
                raise ConfigError(
                    f"{name} = {getattr(self, name):g} is too coarse for "
                    f"total_time = {self.total_time:g}"
                )
        if self.deficit_length <= 0:
            raise ConfigError(
                f"deficit_length = {self.deficit_length:g}: this chapter "
                "studies a deficit; give it a positive length"
            )
        check_window(
            self.deficit_onset,
            self.deficit_length,
            self.total_time,
            "time units",
        )
        check_int("n_onsets", self.n_onsets, minimum=2)
        for d in _check_tuple("depths", self.depths):
            check_int("depths", d, minimum=1)
        for s in _check_tuple("init_scales", self.init_scales):
            check_float("init_scales", s, minimum=0.0, strict=True)
        for length in _check_tuple("deficit_lengths", self.deficit_lengths):
            check_window(0.0, length, self.total_time, "time units")
        check_float("noise", self.noise, minimum=0.0, strict=True)
        check_int("n_traces", self.n_traces, minimum=1)
        check_float("trace_spread", self.trace_spread, minimum=0.0)
        check_int("record_every", self.record_every, minimum=1)

    @property
    def late_onset(self) -> float:
        """Late window onset: 2/3 of the budget, or as late as fits."""
        return min(
            2 * self.total_time / 3, self.total_time - self.deficit_length
        )

    @property
    def onsets(self) -> tuple[float, ...]:
        """Sliding-window onsets, evenly from 0 to T - deficit_length."""
        last = self.total_time - self.deficit_length
        step = last / (self.n_onsets - 1)
        return tuple(step * i for i in range(self.n_onsets))


@dataclass(frozen=True)
class RSVProfile:
    """Fig. 3: RSV of Beta-mixed units, and its sampled estimates."""

    n_units: int = 20_000  # units per histogram (paper: 20,000)
    mc_units: int = 200  # units checked by Monte Carlo
    mc_conditions: int = 200  # values of the fixed source per unit
    mc_samples: int = 400  # draws of the free source per condition
    grid_size: int = 100  # conditioning pairs of the grid estimator

    def __post_init__(self) -> None:
        check_int("n_units", self.n_units, minimum=2)
        check_int("mc_units", self.mc_units, minimum=1)
        check_int("mc_conditions", self.mc_conditions, minimum=2)
        check_int("mc_samples", self.mc_samples, minimum=2)
        check_int("grid_size", self.grid_size, minimum=2)


@dataclass(frozen=True)
class CompletionProfile:
    """Matrix completion with a deficit task (follow-up, its 5.2)."""

    n: int = 40  # matrices are n x n (follow-up: 100)
    rank_deficit: int = 4  # rank of the deficit task (follow-up: 10)
    rank_task: int = 2  # rank of the measured task (follow-up: 5)
    n_observed: int = 320  # observed entries (follow-up: 2000 of 10^4)
    n_observed_check: int = 480  # a second count, to show sensitivity
    depths: tuple[int, ...] = (1, 2, 3)  # factorisation depths
    init_scale: float = 1e-3  # ||W||_F / sqrt(n) at init
    lr: float = 0.8  # learning rate (follow-up: 0.2 with 2000 entries)
    post_steps: int = 4000  # iterations on the task after the deficit
    deficit_steps: tuple[int, ...] = (0, 500, 1000, 2000, 4000)
    record_every: int = 100  # iterations between recorded errors

    def __post_init__(self) -> None:
        # every run this profile describes must be a valid CompletionConfig
        for d in _check_tuple("depths", self.depths):
            for n_observed in (self.n_observed, self.n_observed_check):
                self.run_config(d, n_observed)
        for steps in _check_tuple("deficit_steps", self.deficit_steps):
            check_int("deficit_steps", steps, minimum=0)
        if list(self.deficit_steps) != sorted(set(self.deficit_steps)):
            raise ConfigError(
                f"deficit_steps = {self.deficit_steps!r} must increase"
            )
        if self.deficit_steps[0] != 0:
            raise ConfigError("deficit_steps must start at 0 (the baseline)")
        check_int("record_every", self.record_every, minimum=1)

    def run_config(
        self, depth: int, n_observed: int | None = None
    ) -> CompletionConfig:
        """The CompletionConfig of one depth (and observation count)."""
        return CompletionConfig(
            n=self.n,
            rank_deficit=self.rank_deficit,
            rank_task=self.rank_task,
            n_observed=self.n_observed if n_observed is None else n_observed,
            depth=depth,
            init_scale=self.init_scale,
            lr=self.lr,
            post_steps=self.post_steps,
        )


@dataclass(frozen=True)
class StereoProfile:
    """The stereo chapters: two views, a deficit on view b, its removal.

    Epoch counts are those of the main run (``removal_epochs``, the last
    one is its length) and of each branch (``clean_epochs``); the LR
    decays by ``decay`` per absolute epoch from ``lr0``.
    """

    source: str = "mnist5k"  # mnist5k, fashion_mnist, digits or cifar10
    cifar_path: str | None = None  # the user's CIFAR-10 copy
    image_size: int | None = 16  # resize to this many pixels (None: keep)
    view_size: int | None = None  # columns per view (None: half)
    n_train: int | None = None  # first / random training images
    n_test: int | None = None
    arch: str = "sresnet18"
    width: float = 1 / 16  # channel multiplier (1 = the paper's net)
    heads: str = "single"  # "multi": single-view heads a and b as well
    dissociation_loss: str = "code"  # "code" or "paper" (paper-spec D2)
    both_head: str = "as_trained"  # or "mean_of_views" at branch start
    augment: bool = True  # shared pad-crop(-flip) augmentation
    lr0: float = 0.075
    decay: float = 0.97 ** (180 / 8)  # the paper's LR range in 8 epochs
    weight_decay: float = 5e-4
    batch_size: int = 128
    bn_dry_run: bool = False  # BN re-estimation after every epoch
    removal_epochs: tuple[int, ...] = (0, 4, 8)  # k: deficit epochs
    control_epochs: tuple[int, ...] = (0, 8)  # k of the control sweeps
    clean_epochs: int = 8  # epochs after removal (paper: 179)
    constant_lr: float = 0.01  # the constant-LR control (paper: 5e-4)
    seeds: int = 3  # seeds seed, seed + 1, ...
    n_conditioning: int = 50  # RSV conditioning images (paper: 100)
    precision: str = "auto"  # bf16 autocast: "auto" (CUDA), "bf16", "fp32"
    torch_compile: bool = False  # torch.compile the training forward pass

    def __post_init__(self) -> None:
        from cpkit.models import ARCHS
        from cpkit.training import PRECISIONS
        from cpkit.twoview import SOURCES

        check_choice("source", self.source, SOURCES)
        check_choice("arch", self.arch, ARCHS)
        check_choice("heads", self.heads, ("single", "multi"))
        check_choice(
            "dissociation_loss", self.dissociation_loss, ("code", "paper")
        )
        check_choice(
            "both_head", self.both_head, ("as_trained", "mean_of_views")
        )
        if self.both_head == "mean_of_views" and self.heads != "multi":
            raise ConfigError(
                "both_head = 'mean_of_views' needs heads = 'multi'"
            )
        if self.image_size is not None:
            check_int("image_size", self.image_size, minimum=4)
        for name in ("augment", "torch_compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} = {getattr(self, name)!r} must be True/False"
                )
        check_choice("precision", self.precision, PRECISIONS)
        check_float("width", self.width, minimum=0.0, strict=True)
        for name in ("view_size", "n_train", "n_test"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        check_float("lr0", self.lr0, minimum=0.0, strict=True)
        check_float("constant_lr", self.constant_lr, minimum=0.0, strict=True)
        if check_float("decay", self.decay, minimum=0.0, strict=True) > 1:
            raise ConfigError(f"decay = {self.decay:g} must be <= 1")
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("clean_epochs", self.clean_epochs, minimum=5)
        check_int("seeds", self.seeds, minimum=1)
        check_int("n_conditioning", self.n_conditioning, minimum=2)
        for name in ("removal_epochs", "control_epochs"):
            ks = _check_tuple(name, getattr(self, name))
            for k in ks:
                check_int(name, k, minimum=0)
            if 0 not in ks:
                raise ConfigError(f"{name} = {ks} must include 0")
        extra = set(self.control_epochs) - set(self.removal_epochs)
        if extra:
            raise ConfigError(
                f"control_epochs {sorted(extra)} are not in removal_epochs"
            )

    @property
    def main_epochs(self) -> int:
        """Length of the deficit-throughout main run (its largest k)."""
        return max(self.removal_epochs)

    def specs(self):
        """(ModelSpec, DataSpec, TrainConfig, constant-LR TrainConfig)."""
        from cpkit.protocols import DataSpec, ModelSpec
        from cpkit.training import TrainConfig

        model = ModelSpec(self.arch, self.width, self.heads)
        data = DataSpec(
            self.source,
            self.image_size,
            self.view_size,
            self.n_train,
            self.n_test,
            self.cifar_path,
        )
        config = TrainConfig(
            lr0=self.lr0,
            decay=self.decay,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            bn_dry_run=self.bn_dry_run,
            augment=self.augment,
            dissociation_loss=self.dissociation_loss,
            precision=self.precision,
            compile=self.torch_compile,
        )
        constant = dataclasses.replace(
            config, lr0=self.constant_lr, lr_mode="constant"
        )
        return model, data, config, constant

    def runner(self, device, results_dir=None):
        """A :class:`cpkit.protocols.Runner` of this profile's runs."""
        from cpkit.protocols import MeasureConfig, Runner, RunStore

        model, data, config, _ = self.specs()
        return Runner(
            model,
            data,
            config,
            device,
            RunStore(results_dir),
            MeasureConfig(n_conditioning=self.n_conditioning),
        )


@dataclass(frozen=True)
class TimingDepthProfile(StereoProfile):
    """The stereo timing-and-depth chapter: sliding windows, deeper nets.

    The inherited fields describe the sliding-window runs (the multi-head
    Split-ResNet of the dissociation chapter); ``window_*`` the windows;
    ``depth_*`` the depth experiment (paper Fig. 5-centre): two-pathway
    All-CNNs with ``depth_blocks`` blocks, blur removal at a constant LR,
    beside a sham main run without deficit.
    """

    window_deficit: str = "dissociation"  # or "blur"
    window_onsets: tuple[int, ...] = (0, 3, 6)  # first deficit epochs
    window_length: int = 2  # deficit epochs per window
    window_recovery: int = 8  # clean epochs after every window
    window_schedules: tuple[str, ...] = ("constant",)  # and/or "decay"
    depth_blocks: tuple[int, ...] = (1, 2, 3)  # n of the All-CNN (paper)
    depth_width: float = 1 / 8  # channel multiplier of the All-CNN
    depth_lr: float = 0.02  # constant LR (paper: 0.001)
    depth_weight_decay: float = 1e-3  # (paper: 1e-3)
    depth_removal_epochs: tuple[int, ...] = (0, 6)  # k (paper: 0..280)
    depth_clean_epochs: int = 6  # epochs after removal (paper: 159)
    depth_bn_dry_run: bool = False  # BN re-estimation (paper's main.py)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(
            "window_deficit", self.window_deficit, ("blur", "dissociation")
        )
        if self.window_deficit == "dissociation" and self.heads != "multi":
            raise ConfigError(
                "window_deficit = 'dissociation' needs heads = 'multi'"
            )
        for s in _check_tuple("window_onsets", self.window_onsets):
            check_int("window_onsets", s, minimum=0)
        check_int("window_length", self.window_length, minimum=1)
        check_int("window_recovery", self.window_recovery, minimum=5)
        for name in _check_tuple("window_schedules", self.window_schedules):
            check_choice("window_schedules", name, ("decay", "constant"))
        for n in _check_tuple("depth_blocks", self.depth_blocks):
            check_int("depth_blocks", n, minimum=1)
        check_float("depth_width", self.depth_width, minimum=0.0, strict=True)
        check_float("depth_lr", self.depth_lr, minimum=0.0, strict=True)
        check_float("depth_weight_decay", self.depth_weight_decay, minimum=0.0)
        ks = _check_tuple("depth_removal_epochs", self.depth_removal_epochs)
        for k in ks:
            check_int("depth_removal_epochs", k, minimum=0)
        if 0 not in ks or max(ks) == 0:
            raise ConfigError(
                f"depth_removal_epochs = {ks} must include 0 and a k > 0"
            )
        check_int("depth_clean_epochs", self.depth_clean_epochs, minimum=5)
        if not isinstance(self.depth_bn_dry_run, bool):
            raise ConfigError(
                f"depth_bn_dry_run = {self.depth_bn_dry_run!r} must be "
                "True or False"
            )

    def window_configs(self):
        """{schedule name: TrainConfig} of the sliding-window sweeps."""
        _, _, config, constant = self.specs()
        names = {
            "decay": (f"LR {self.lr0:g} decaying by {self.decay:.3g}", config),
            "constant": (f"constant LR {self.constant_lr:g}", constant),
        }
        return dict(names[s] for s in self.window_schedules)

    def depth_runner(self, n_blocks: int, device, results_dir=None):
        """A Runner of the All-CNN with ``n_blocks`` at the depth LR."""
        from cpkit.protocols import MeasureConfig, ModelSpec, Runner, RunStore

        _, data, config, _ = self.specs()
        config = dataclasses.replace(
            config,
            lr0=self.depth_lr,
            lr_mode="constant",
            weight_decay=self.depth_weight_decay,
            bn_dry_run=self.depth_bn_dry_run,
        )
        return Runner(
            ModelSpec("allcnn", self.depth_width, "single", n_blocks),
            data,
            config,
            device,
            RunStore(results_dir),
            MeasureConfig(n_conditioning=self.n_conditioning),
        )


@dataclass(frozen=True)
class VideoProfile:
    """The video chapter: two-frame clips, a Multi-View Transformer and a
    sliding dissociation window (paper Fig. 8, supervised arm; Fig. 14).

    ``window_onsets`` are normalised: onset / (epochs - window_length),
    the paper's axis; :meth:`onset_epochs` turns them into epochs.
    """

    source: str = "mnist5k"  # sprite images: mnist5k, fashion_mnist, digits
    sprite: int = 14  # sprite side (pixels)
    canvas: int = 16  # wrapping canvas side = frame size
    shift: int = 2  # pixels moved between the frames
    directions: int = 8  # motion classes
    test_images: int = 1000  # images held out for the test clips
    patch: int = 4
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0  # MLP width / dim (ViT: 4)
    cross_bias: float = 3.0  # initial same-place cross-view attention bias
    lr: float = 2e-3  # AdamW peak LR
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    epochs: int = 12
    batch_size: int = 128
    last_n: int = 3  # metric: mean test accuracy of the last n epochs
    window_deficit: str = "dissociation"  # or "blur"
    window_length: int = 2  # epochs (paper: 20 of 120, 1/6)
    window_onsets: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: int = 3
    rsv_clips: int = 32  # test clips of the RSV grid (clips^2 pairs)
    long_budget: int = 2  # also one seed at this x the epochs (0: none)

    def __post_init__(self) -> None:
        from cpkit.clips import CLIP_SOURCES
        from cpkit.video import FRAME_DEFICITS

        check_choice("source", self.source, CLIP_SOURCES)
        check_choice("window_deficit", self.window_deficit, FRAME_DEFICITS)
        for name in ("sprite", "canvas", "shift", "directions", "patch"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("dim", "depth", "heads", "epochs", "batch_size"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("test_images", self.test_images, minimum=1)
        check_int("warmup_epochs", self.warmup_epochs, minimum=0)
        check_int("last_n", self.last_n, minimum=1)
        check_int("seeds", self.seeds, minimum=1)
        check_int("rsv_clips", self.rsv_clips, minimum=2)
        check_int("long_budget", self.long_budget, minimum=0)
        check_float("cross_bias", self.cross_bias)
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_int("window_length", self.window_length, minimum=1)
        check_window(0, self.window_length, self.epochs, "epochs")
        if self.window_length >= self.epochs:
            raise ConfigError(
                f"window_length = {self.window_length} must be shorter than "
                f"epochs = {self.epochs}: a window must have somewhere to "
                "slide"
            )
        for u in _check_tuple("window_onsets", self.window_onsets):
            if not 0 <= check_float("window_onsets", u) <= 1:
                raise ConfigError(
                    f"window_onsets = {self.window_onsets} must lie in [0, 1]"
                )
        # build the parts once, so that a bad combination fails here
        self.clip_spec()
        self.transformer_spec(10)
        self.train_config()

    def longer(self):
        """The same profile with ``long_budget`` x the epochs, warm-up,
        window and metric span (the check that a loss is not merely lost
        time)."""
        k = max(self.long_budget, 1)
        return dataclasses.replace(
            self,
            epochs=self.epochs * k,
            warmup_epochs=self.warmup_epochs * k,
            window_length=self.window_length * k,
            last_n=self.last_n * k,
            long_budget=0,
        )

    def onset_epochs(self) -> list[int]:
        """Window onsets in epochs: round(u * (epochs - window_length))."""
        last = self.epochs - self.window_length
        return sorted({round(u * last) for u in self.window_onsets})

    def clip_spec(self):
        from cpkit.clips import ClipSpec

        return ClipSpec(
            self.source,
            self.sprite,
            self.canvas,
            self.shift,
            self.directions,
            self.test_images,
        )

    def transformer_spec(self, classes: int):
        from cpkit.transformer import TransformerSpec

        return TransformerSpec(
            image_size=self.canvas,
            channels=1,
            patch=self.patch,
            dim=self.dim,
            depth=self.depth,
            heads=self.heads,
            mlp_ratio=self.mlp_ratio,
            classes=classes,
            cross_bias=self.cross_bias,
        )

    def train_config(self):
        from cpkit.video import VideoTrainConfig

        return VideoTrainConfig(
            lr=self.lr,
            warmup_epochs=self.warmup_epochs,
            epochs=self.epochs,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            last_n=self.last_n,
        )


@dataclass(frozen=True)
class MaskedProfile:
    """The masked chapter: cross-view masked pre-training with a sliding
    dissociation window, then fine-tuning (paper 4.4, Fig. 7, Fig. 8
    masked arm, Fig. 14). Data and encoder are the video profile's of
    the same name.

    ``window_onsets`` are normalised over the pre-training budget:
    onset / (pretrain_epochs - window_length).
    """

    mask_ratio: float = 0.75
    alpha: float = 1.0  # Dirichlet concentration of the view split
    norm_pixels: bool = True  # MAE's per-patch normalised targets
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4
    pretrain_lr: float = 2e-3
    pretrain_warmup: int = 1
    pretrain_epochs: int = 12
    pretrain_batch: int = 32
    pretrain_beta2: float = 0.95  # MultiMAE's AdamW betas (0.9, 0.95)
    weight_decay: float = 0.05
    window_deficit: str = "dissociation"  # or "blur"
    window_length: int = 3  # pre-training epochs (paper: 200 of 800)
    window_onsets: tuple[float, ...] = (0.0, 1 / 3, 2 / 3, 1.0)
    finetune_lr: float = 2e-3
    finetune_warmup: int = 1
    finetune_epochs: int = 12  # the supervised budget: scratch = its base
    finetune_batch: int = 128
    last_n: int = 3  # metric: mean test accuracy of the last n epochs
    seeds: int = 3
    rsv_clips: int = 32
    recon_clips: int = 3  # test clips shown reconstructed (Fig. 7)

    def __post_init__(self) -> None:
        from cpkit.video import FRAME_DEFICITS

        check_choice("window_deficit", self.window_deficit, FRAME_DEFICITS)
        if not isinstance(self.norm_pixels, bool):
            raise ConfigError(
                f"norm_pixels = {self.norm_pixels!r} must be True or False"
            )
        for name in (
            "pretrain_epochs",
            "pretrain_batch",
            "finetune_epochs",
            "finetune_batch",
            "last_n",
            "seeds",
            "recon_clips",
            "window_length",
        ):
            check_int(name, getattr(self, name), minimum=1)
        check_int("pretrain_warmup", self.pretrain_warmup, minimum=0)
        check_int("finetune_warmup", self.finetune_warmup, minimum=0)
        check_int("rsv_clips", self.rsv_clips, minimum=2)
        if self.window_length >= self.pretrain_epochs:
            raise ConfigError(
                f"window_length = {self.window_length} must be shorter "
                f"than pretrain_epochs = {self.pretrain_epochs}: a window "
                "must have somewhere to slide"
            )
        for u in _check_tuple("window_onsets", self.window_onsets):
            if not 0 <= check_float("window_onsets", u) <= 1:
                raise ConfigError(
                    f"window_onsets = {self.window_onsets} must lie in [0, 1]"
                )
        # build the parts once, so that a bad combination fails here
        self.masked_spec()
        self.pretrain_config()
        self.finetune_config()

    def onset_epochs(self) -> list[int]:
        """Window onsets in pre-training epochs."""
        last = self.pretrain_epochs - self.window_length
        return sorted({round(u * last) for u in self.window_onsets})

    def masked_spec(self):
        from cpkit.masked import MaskedSpec

        return MaskedSpec(
            mask_ratio=self.mask_ratio,
            alpha=self.alpha,
            decoder_dim=self.decoder_dim,
            decoder_depth=self.decoder_depth,
            decoder_heads=self.decoder_heads,
            norm_pixels=self.norm_pixels,
        )

    def pretrain_config(self):
        from cpkit.video import VideoTrainConfig

        return VideoTrainConfig(
            lr=self.pretrain_lr,
            warmup_epochs=self.pretrain_warmup,
            epochs=self.pretrain_epochs,
            weight_decay=self.weight_decay,
            beta2=self.pretrain_beta2,
            batch_size=self.pretrain_batch,
            last_n=1,
        )

    def finetune_config(self):
        from cpkit.video import VideoTrainConfig

        return VideoTrainConfig(
            lr=self.finetune_lr,
            warmup_epochs=self.finetune_warmup,
            epochs=self.finetune_epochs,
            weight_decay=self.weight_decay,
            batch_size=self.finetune_batch,
            last_n=self.last_n,
        )


#: the paper's scale (paper-spec 2.4), shared by the stereo chapters
_STEREO_FULL = {
    "source": "cifar10",
    "image_size": None,
    "width": 1.0,
    "decay": 0.97,
    "removal_epochs": tuple(range(0, 181, 20)),
    "control_epochs": (0, 60, 120, 180),
    "clean_epochs": 179,
    "constant_lr": 5e-4,
    "seeds": 4,
    "n_conditioning": 100,
}


_REGISTRY: dict[str, dict[str, object]] = {
    "sensor_dropping": {
        "quick": SensorDroppingProfile(),
        "full": SensorDroppingProfile(lr=0.001, steps=10_000),
    },
    "pathways": {
        "quick": PathwayProfile(),
        "full": PathwayProfile(
            dt=0.005,
            gd_dt=0.002,
            n_onsets=51,
            depths=(1, 2, 3, 4, 5, 6, 8, 10, 13),
            init_scales=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
            deficit_lengths=(1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0),
            n_traces=100,
            record_every=20,
        ),
    },
    "matrix_completion": {
        "quick": CompletionProfile(),
        "full": CompletionProfile(
            n=100,
            rank_deficit=10,
            rank_task=5,
            n_observed=2000,
            n_observed_check=3000,
            lr=0.2,
            post_steps=30_000,
            deficit_steps=(0, 1000, 5000, 10_000, 20_000, 40_000),
            record_every=500,
        ),
    },
    "stereo_blur": {
        "quick": StereoProfile(),
        "full": StereoProfile(**_STEREO_FULL, bn_dry_run=True),
    },
    "stereo_dissociation": {
        "quick": StereoProfile(
            heads="multi", lr0=0.05, both_head="mean_of_views"
        ),
        "full": StereoProfile(**_STEREO_FULL, heads="multi", lr0=0.05),
    },
    "stereo_timing_depth": {
        "quick": TimingDepthProfile(heads="multi", lr0=0.05),
        "full": TimingDepthProfile(
            **_STEREO_FULL,
            heads="multi",
            lr0=0.05,
            window_onsets=(0, 40, 80, 120, 160),
            window_length=20,
            window_recovery=60,
            window_schedules=("decay", "constant"),
            depth_width=1.0,
            depth_lr=0.001,
            depth_removal_epochs=tuple(range(0, 281, 40)),
            depth_clean_epochs=159,
            depth_bn_dry_run=True,
        ),
    },
    "video": {
        "quick": VideoProfile(),
        # the paper's schedule (120 epochs, 20-epoch window, 20 warm-up
        # epochs) with ViT-S sizes on 28-px sprites; see the chapter
        "full": VideoProfile(
            sprite=28,
            canvas=32,
            shift=4,
            dim=384,
            depth=12,
            heads=6,
            mlp_ratio=4.0,
            lr=1e-3,
            warmup_epochs=20,
            epochs=120,
            batch_size=256,
            last_n=5,
            window_length=20,
            rsv_clips=64,
            long_budget=0,
        ),
    },
    "masked": {
        "quick": MaskedProfile(),
        # the paper's budgets (800 pre-training epochs with a 200-epoch
        # window, 20 fine-tuning epochs with 5 warm-up) and MultiMAE's
        # decoder; the encoder is the full video profile's ViT-S
        "full": MaskedProfile(
            decoder_dim=256,
            decoder_depth=2,
            decoder_heads=8,
            pretrain_lr=1e-4,  # base 1e-4 x batch 256 / 256
            pretrain_warmup=40,
            pretrain_epochs=800,
            pretrain_batch=256,
            window_length=200,
            window_onsets=(0.0, 1 / 6, 1 / 3, 7 / 12, 5 / 6, 1.0),
            finetune_lr=5e-4,
            finetune_warmup=5,
            finetune_epochs=20,
            finetune_batch=256,
            last_n=5,
            rsv_clips=64,
        ),
    },
    "rsv": {
        "quick": RSVProfile(),
        "full": RSVProfile(
            mc_units=1000, mc_conditions=400, mc_samples=1000, grid_size=200
        ),
    },
}


def get_profile(chapter: str, profile: str, **overrides: object):
    """The chapter's named profile, with non-None ``overrides`` applied."""
    check_choice("chapter", chapter, tuple(_REGISTRY))
    check_choice("profile", profile, PROFILES)
    base = _REGISTRY[chapter][profile]
    changes = {k: v for k, v in overrides.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(base)}
    for name in changes:
        if name not in fields:
            raise ConfigError(
                f"{name} is not a parameter of the {chapter} chapter"
            )
    return dataclasses.replace(base, **changes)


def differences(chapter: str) -> list[tuple[str, object, object]]:
    """(field, quick value, full value) for every field the profiles of
    ``chapter`` set differently, in the dataclass's order."""
    check_choice("chapter", chapter, tuple(_REGISTRY))
    quick, full = (_REGISTRY[chapter][p] for p in PROFILES)
    return [
        (f.name, getattr(quick, f.name), getattr(full, f.name))
        for f in dataclasses.fields(quick)
        if getattr(quick, f.name) != getattr(full, f.name)
    ]
