"""Numbers, tables and figures of the video chapter.

:class:`VideoStudy` holds one :func:`cpkit.video.window_sweep` per seed:
a no-deficit base run and a window run at every onset, each scored by
the mean test accuracy of its last epochs on the label, and separately on
the content (readable from either frame) and the direction of motion
(readable only from both).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

import cpkit
from cpkit import reference, workers
from cpkit.clips import ClipData
from cpkit.config import cpu_threads
from cpkit.figures import slider_figure
from cpkit.metrics.rsv import PAPER_BIN_EDGES, histogram
from cpkit.protocols import RunStore, _git_commit
from cpkit.removal_report import COLORS, fmt, mean_sd
from cpkit.timing_report import _mean_trace, _verdict, fig8_traces
from cpkit.transformer import MultiViewTransformer
from cpkit.video import train_clips, window_sweep

logger = logging.getLogger(__name__)

#: what each drop field measures, for legends and tables
FIELDS = {
    "drop": ("label (content × direction)", COLORS[0]),
    "drop_content": ("content (either frame)", COLORS[1]),
    "drop_direction": ("direction of motion (both frames)", COLORS[2]),
}


#: modules whose source decides a sweep's result (part of its key)
_CODE = (
    "clips",
    "transformer",
    "video",
    "deficits",
    "metrics/rsv",
    "training",  # its autocast
    "sources",
    "config",
)


def code_digest(modules: Sequence[str]) -> str:
    """A short hash of the source of cpkit ``modules``."""
    root = Path(cpkit.__file__).parent
    code = hashlib.sha256()
    for name in modules:
        code.update((root / f"{name}.py").read_bytes())
    return code.hexdigest()[:16]


def _profile_fields(profile) -> dict:
    fields = dataclasses.asdict(profile)
    for name in ("seeds", "long_budget"):  # they do not change a sweep
        fields.pop(name, None)
    return fields


def _sweep_payload(profile, seed: int, device) -> dict:
    """Everything that decides one seed's sweep: its key hashes this."""
    return {
        "profile": _profile_fields(profile),
        "seed": seed,
        "code": code_digest(_CODE),
        # bf16 on CUDA, float32 elsewhere; results differ across them
        "device": torch.device(device).type,
        "threads": cpu_threads(device),
        "torch": torch.__version__.split("+")[0],
    }


def _to_store(node):
    """Arrays as tensors, so that the record loads weights-only."""
    if isinstance(node, np.ndarray):
        return torch.from_numpy(node)
    if isinstance(node, dict):
        return {k: _to_store(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_store(v) for v in node]
    return node


def _from_store(node):
    if isinstance(node, torch.Tensor):
        return node.numpy()
    if isinstance(node, dict):
        return {k: _from_store(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_from_store(v) for v in node]
    return node


def cached_record(
    store: RunStore, prefix: str, payload: dict, compute: Callable[[], dict]
) -> dict:
    """``compute()``, or its record in ``store`` if already finished.

    The key is ``prefix`` and a hash of ``payload``, which must hold
    everything that decides the result; a lock lets two processes share a
    results folder. Tensors come back as numpy arrays.
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    key = f"{prefix}-" + hashlib.sha256(text.encode()).hexdigest()[:24]
    record = store.get(key)
    if record is None:
        with store.lock(key):
            record = store.get(key)
            if record is None:
                start = time.perf_counter()
                record = _to_store(compute())
                record["meta"] = {
                    "run": text,
                    "cpkit": cpkit.__version__,
                    "git": _git_commit(),
                    "device": payload.get("device"),
                    "seconds": time.perf_counter() - start,
                    "finished": datetime.datetime.now(
                        datetime.UTC
                    ).isoformat(),
                }
                store.put(key, record)
    return _from_store(record)


def cached_sweep(
    store: RunStore, profile, data: ClipData, device, seed: int
) -> dict:
    """One seed's :func:`window_sweep`, read from ``store`` if finished.

    The key hashes the profile (less its seed count), the seed, the
    source of the modules that compute it, the device type and the torch
    version.
    """
    return cached_record(
        store,
        "video",
        _sweep_payload(profile, seed, device),
        lambda: window_sweep(
            model_factory(profile, data, device),
            data,
            profile.train_config(),
            seed,
            profile.window_deficit,
            profile.onset_epochs(),
            profile.window_length,
            profile.rsv_clips,
        ),
    )


def model_factory(profile, data: ClipData, device, **changes):
    """``seed -> MultiViewTransformer`` of the profile's size on device."""
    spec = dataclasses.replace(
        profile.transformer_spec(data.classes), **changes
    )

    def make(seed: int) -> MultiViewTransformer:
        torch.manual_seed(seed)
        return MultiViewTransformer(spec).to(device)

    return make


class SweepStudy:
    """Window sweeps of several seeds: the accessors both arms share.

    Each sweep has a ``base`` run and one ``windows`` entry per onset,
    with accuracies and drops (base minus window) per field.
    """

    def __init__(
        self, sweeps: list[dict], deficit: str, length: int, epochs: int
    ) -> None:
        self.sweeps = sweeps
        self.deficit, self.length, self.epochs = deficit, length, epochs
        self.onsets = [w["onset"] for w in sweeps[0]["windows"]]
        self.seeds = [s["seed"] for s in sweeps]
        self.seconds = 0.0

    def normalised(self, onset: int) -> float:
        """The paper's axis: onset / (epochs - window length)."""
        return onset / max(self.epochs - self.length, 1)

    def window(self, onset: int, seed: int) -> dict:
        sweep = self.sweeps[self.seeds.index(seed)]
        return sweep["windows"][self.onsets.index(onset)]

    def values(self, onset: int, field: str) -> np.ndarray:
        """One value per seed of a window run's field."""
        return np.array(
            [float(self.window(onset, s)[field]) for s in self.seeds]
        )

    def base_values(self, field: str, run: str = "base") -> np.ndarray:
        """Per seed: ``field`` of the no-deficit run (or another run)."""
        return np.array([float(s[run][field]) for s in self.sweeps])

    def early_minus_late(self, field: str = "drop") -> np.ndarray:
        """Per seed: the first onset's drop minus the last onset's."""
        return self.values(self.onsets[0], field) - self.values(
            self.onsets[-1], field
        )

    def largest_drop(self, field: str = "drop") -> tuple[int, float]:
        """The onset whose mean drop is largest, and that mean."""
        means = [float(self.values(s, field).mean()) for s in self.onsets]
        i = int(np.argmax(means))
        return self.onsets[i], means[i]

    def headlines(self, arm: str, name: str) -> list:
        """Drops at the first and last onsets and the largest mean drop,
        beside the same points of the paper's Fig. 8 curve ``arm``.
        """
        from cpkit.headlines import per_seed

        paper = reference.digitized()["fig8_video_accuracy_decrease"][arm]
        decrease = np.asarray(paper["decrease"], dtype=float)
        order = np.argsort(paper["normalized_onset"])
        first, last = self.onsets[0], self.onsets[-1]
        peak, _ = self.largest_drop()
        return [
            per_seed(
                f"{name}_first",
                f"{name}: accuracy lost to a window at the first onset",
                self.values(first, "drop"),
                "points",
                decrease[order[0]],
            ),
            per_seed(
                f"{name}_last",
                f"{name}: accuracy lost to a window at the last onset",
                self.values(last, "drop"),
                "points",
                decrease[order[-1]],
            ),
            per_seed(
                f"{name}_peak",
                f"{name}: the largest mean drop (onset "
                f"{self.normalised(peak):.2f}; paper: its largest)",
                self.values(peak, "drop"),
                "points",
                decrease.max(),
            ),
        ]

    def peak_onset(self, field: str = "drop") -> int:
        """The onset whose mean drop is largest."""
        return self.largest_drop(field)[0]

    def drop_trace(self, field: str, name: str, color: str) -> go.Scatter:
        """Mean ± sd of ``field`` by normalised onset, one point each."""
        x = [self.normalised(s) for s in self.onsets]
        stats = [mean_sd(self.values(s, field)) for s in self.onsets]
        return _mean_trace(x, stats, name, color).update(
            text=[f"onset epoch {s}" for s in self.onsets]
        )


def fig8_figure(traces: Sequence[go.Scatter], title: str) -> go.Figure:
    """Our drop curves on the axes of the paper's Fig. 8, with its two
    digitized curves."""
    fig = go.Figure(traces)
    fig.add_traces(
        fig8_traces(
            "paper Fig. 8: supervised", "paper Fig. 8: masked pre-training"
        )
    )
    fig.add_hline(y=0, line={"color": "#ccc"})
    fig.update_layout(
        title=title,
        xaxis_title="introduction of deficit (normalised onset)",
        yaxis_title="decrease in test accuracy (points)",
        height=480,
    )
    return fig


class VideoStudy(SweepStudy):
    """Window sweeps of several seeds (paper Fig. 8, supervised arm)."""

    @classmethod
    def run(
        cls,
        profile,
        data: ClipData,
        device,
        seeds: Sequence[int],
        results_dir: Path | str | None = None,
        log: Callable[[str], None] = logger.info,
    ) -> VideoStudy:
        """Every seed's sweep over the profile's onsets.

        With ``results_dir``, each seed's finished sweep is kept there and
        read back instead of trained again.
        """
        start = time.perf_counter()
        store = RunStore(results_dir)

        def one(seed: int) -> dict:
            sweep = cached_sweep(store, profile, data, device, seed)
            log(f"seed {seed}: {sweep['base']['acc']:.1f} % base")
            return sweep

        sweeps = workers.per_seed(seeds, one)
        study = cls(
            sweeps,
            profile.window_deficit,
            profile.window_length,
            profile.epochs,
        )
        study.seconds = time.perf_counter() - start
        return study

    # --- figures ----------------------------------------------------------

    def drop_figure(self, title: str) -> go.Figure:
        """Accuracy decrease against the normalised onset, with Fig. 8."""
        return fig8_figure(
            [
                self.drop_trace(field, f"ours: {name}", color)
                for field, (name, color) in FIELDS.items()
            ],
            title,
        )

    def curve_slider(self) -> go.Figure:
        """Slider over the onset: test accuracy of base and window runs,
        label and direction, per epoch (mean over seeds)."""
        epochs = list(range(self.epochs))
        base = {
            k: np.mean([s["base"]["log"][k] for s in self.sweeps], axis=0)
            for k in ("test_acc", "direction_acc")
        }

        def traces(onset: float) -> list:
            runs = [self.window(int(onset), s)["log"] for s in self.seeds]
            hit = {
                k: np.mean([r[k] for r in runs], axis=0)
                for k in ("test_acc", "direction_acc")
            }
            end = onset + self.length
            return [
                go.Scatter(
                    x=[onset - 0.5, end - 0.5, end - 0.5, onset - 0.5],
                    y=[0, 0, 100, 100],
                    fill="toself",
                    fillcolor="rgba(255,127,14,0.15)",
                    line={"width": 0},
                    name=f"{self.deficit} window",
                    hoverinfo="skip",
                ),
                go.Scatter(
                    x=epochs,
                    y=base["direction_acc"].tolist(),
                    name="direction, no deficit",
                    line={"color": "#7f7f7f", "dash": "dot"},
                ),
                go.Scatter(
                    x=epochs,
                    y=hit["direction_acc"].tolist(),
                    name="direction, window",
                    line={"color": COLORS[2], "dash": "dot"},
                ),
                go.Scatter(
                    x=epochs,
                    y=base["test_acc"].tolist(),
                    name="label, no deficit",
                    line={"color": "#7f7f7f"},
                ),
                go.Scatter(
                    x=epochs,
                    y=hit["test_acc"].tolist(),
                    name="label, window",
                    line={"color": COLORS[0]},
                ),
            ]

        return slider_figure(
            self.onsets,
            traces,
            "window onset (epoch)",
            layout={
                "title": "Test accuracy with and without the window",
                "xaxis": {"title": {"text": "epoch"}},
                "yaxis": {
                    "title": {"text": "test accuracy (%), mean of seeds"},
                    "range": [0, 101],
                },
                "height": 480,
            },
            fmt="{:d}",
        )

    def rsv_slider(self) -> go.Figure:
        """Slider over the onset: RSV histogram of the window runs' units
        beside the no-deficit runs' (all seeds pooled)."""
        centres = (PAPER_BIN_EDGES[1:] + PAPER_BIN_EDGES[:-1]) / 2
        base, _ = histogram(
            np.concatenate([s["base"]["rsv"] for s in self.sweeps])
        )

        def traces(onset: float) -> list:
            pooled = np.concatenate(
                [self.window(int(onset), s)["rsv"] for s in self.seeds]
            )
            hit, _ = histogram(pooled)
            return [
                go.Bar(
                    x=centres.tolist(),
                    y=base.tolist(),
                    name="no deficit",
                    marker={"color": "#7f7f7f"},
                    opacity=0.6,
                ),
                go.Bar(
                    x=centres.tolist(),
                    y=hit.tolist(),
                    name="after the window",
                    marker={"color": COLORS[0]},
                    opacity=0.6,
                ),
            ]

        return slider_figure(
            self.onsets,
            traces,
            "window onset (epoch)",
            layout={
                "title": "RSV of the encoder's output units",
                "barmode": "overlay",
                "xaxis": {
                    "title": {"text": "RSV (+1: frame a only, −1: frame b)"}
                },
                "yaxis": {"title": {"text": "fraction of units"}},
                "height": 440,
            },
            fmt="{:d}",
        )

    # --- tables -----------------------------------------------------------

    def table(self) -> str:
        """Markdown: per onset, accuracies and paired drops."""
        lines = [
            "| onset (epoch) | normalised | label acc | label drop | "
            "vs 2 SE | content drop | direction drop | vs 2 SE | mean RSV | "
            "paper Fig. 8 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        paper = reference.digitized()["fig8_video_accuracy_decrease"]
        ref = list(
            zip(
                paper["supervised"]["normalized_onset"],
                paper["supervised"]["decrease"],
                strict=True,
            )
        )
        base = (
            "| none | — | "
            f"{fmt(mean_sd(self.base_values('acc')))} | — | | "
            f"— | — | | "
            f"{fmt(mean_sd(self._rsv_means(None)), sign=True)} | — |"
        )
        lines.append(base)
        for s in self.onsets:
            u = self.normalised(s)
            drop = self.values(s, "drop")
            direction = self.values(s, "drop_direction")
            paper_value = next((d for x, d in ref if abs(x - u) < 1e-9), None)
            cells = [
                f"{u:.2f}",
                fmt(mean_sd(self.values(s, "acc"))),
                fmt(mean_sd(drop), sign=True),
                _verdict(drop),
                fmt(mean_sd(self.values(s, "drop_content")), sign=True),
                fmt(mean_sd(direction), sign=True),
                _verdict(direction),
                fmt(mean_sd(self._rsv_means(s)), sign=True),
                "—" if paper_value is None else f"{paper_value:+.2f}",
            ]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def _rsv_means(self, onset: int | None) -> np.ndarray:
        runs = (
            [s["base"] for s in self.sweeps]
            if onset is None
            else [self.window(onset, s) for s in self.seeds]
        )
        return np.array([float(np.nanmean(r["rsv"])) for r in runs])


def bias_ablation(
    profile, data: ClipData, device, seed: int, bias: float = 0.0
) -> list[float]:
    """Direction accuracy per epoch of the no-deficit run whose
    cross-view bias starts at ``bias`` (one seed)."""
    make = model_factory(profile, data, device, cross_bias=bias)
    log, _ = train_clips(make(seed), data, profile.train_config(), seed)
    return list(log.direction_acc)


def frames_figure(
    frames_a: torch.Tensor,
    frames_b: torch.Tensor,
    titles: Sequence[str],
    title: str,
) -> go.Figure:
    """Pairs of frames as images, frame a above frame b."""
    n = len(titles)
    fig = make_subplots(
        rows=2,
        cols=n,
        subplot_titles=[*titles, *([""] * n)],
        vertical_spacing=0.06,
        horizontal_spacing=0.02,
    )
    for row, frames in ((1, frames_a), (2, frames_b)):
        for col in range(n):
            x = frames[col].detach().float().cpu().clamp(0, 1)
            if x.shape[0] == 1:
                x = x.expand(3, -1, -1)
            rgb = (x.permute(1, 2, 0) * 255).round().to(torch.uint8)
            fig.add_trace(go.Image(z=rgb.numpy()), row=row, col=col + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_yaxes(title_text="frame a", row=1, col=1)
    fig.update_yaxes(title_text="frame b", row=2, col=1)
    fig.update_layout(title=title, height=200 + 60 * 4, showlegend=False)
    return fig
