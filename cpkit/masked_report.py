"""Numbers, tables and figures of the masked chapter.

:class:`MaskedStudy` holds one :func:`cpkit.masked.masked_sweep` per
seed: a no-deficit pre-training run and one per window onset, each
fine-tuned with labels, plus a control fine-tuned from a random encoder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from cpkit import workers
from cpkit.clips import ClipData
from cpkit.config import cpu_threads
from cpkit.figures import slider_figure
from cpkit.masked import MaskedCrossView, masked_sweep
from cpkit.metrics.rsv import PAPER_BIN_EDGES, histogram
from cpkit.protocols import RunStore
from cpkit.removal_report import COLORS, fmt, mean_sd
from cpkit.timing_report import _verdict
from cpkit.video_report import (
    _CODE,
    SweepStudy,
    _profile_fields,
    cached_record,
    code_digest,
    fig8_figure,
    frames_figure,
    model_factory,
)

logger = logging.getLogger(__name__)

_MASKED_CODE = (*_CODE, "masked")


def pretrainer_factory(profile, video_profile, data: ClipData, device):
    """``seed -> MaskedCrossView`` with the video profile's encoder."""
    spec = video_profile.transformer_spec(data.classes)
    masked = profile.masked_spec()

    def make(seed: int) -> MaskedCrossView:
        torch.manual_seed(seed)
        return MaskedCrossView(spec, masked).to(device)

    return make


def cached_masked_sweep(
    store: RunStore, profile, video_profile, data, device, seed: int
) -> dict:
    """One seed's :func:`masked_sweep`, read from ``store`` if finished."""
    payload = {
        "profile": _profile_fields(profile),
        "video": _profile_fields(video_profile),
        "seed": seed,
        "code": code_digest(_MASKED_CODE),
        "device": torch.device(device).type,
        "threads": cpu_threads(device),
        "torch": torch.__version__.split("+")[0],
    }
    return cached_record(
        store,
        "masked",
        payload,
        lambda: masked_sweep(
            pretrainer_factory(profile, video_profile, data, device),
            model_factory(video_profile, data, device),
            data,
            profile.pretrain_config(),
            profile.finetune_config(),
            seed,
            profile.window_deficit,
            profile.onset_epochs(),
            profile.window_length,
            profile.rsv_clips,
            profile.recon_clips,
        ),
    )


class MaskedStudy(SweepStudy):
    """Masked window sweeps of several seeds (paper Fig. 8, masked arm);
    epochs and onsets count pre-training epochs."""

    def __init__(self, sweeps: list[dict], profile) -> None:
        super().__init__(
            sweeps,
            profile.window_deficit,
            profile.window_length,
            profile.pretrain_epochs,
        )
        self.profile = profile

    @classmethod
    def run(
        cls,
        profile,
        video_profile,
        data: ClipData,
        device,
        seeds: Sequence[int],
        results_dir: Path | str | None = None,
        log: Callable[[str], None] = logger.info,
    ) -> MaskedStudy:
        """Every seed's sweep; with ``results_dir``, kept and reused."""
        start = time.perf_counter()
        store = RunStore(results_dir)

        def one(seed: int) -> dict:
            sweep = cached_masked_sweep(
                store, profile, video_profile, data, device, seed
            )
            log(f"seed {seed}: {sweep['base']['acc']:.1f} % base")
            return sweep

        sweeps = workers.per_seed(seeds, one)
        study = cls(sweeps, profile)
        study.seconds = time.perf_counter() - start
        return study

    def base_values_of_log(self, log: str, key: str) -> np.ndarray:
        """Per seed: the last entry of a base run's log (e.g. the test
        reconstruction loss at the end of pre-training)."""
        return np.array([float(s["base"][log][key][-1]) for s in self.sweeps])

    @property
    def zero_loss(self) -> float:
        """The test reconstruction loss of predicting 0 everywhere."""
        return float(self.sweeps[0]["base"]["zero_loss"])

    # --- figures ----------------------------------------------------------

    def both_arms(self, supervised, title: str) -> go.Figure:
        """Fig. 8: label drop by normalised onset, both arms, ours and the
        paper's. ``supervised`` is the video chapter's
        :class:`~cpkit.video_report.VideoStudy` on the same data."""
        return fig8_figure(
            [
                supervised.drop_trace("drop", "ours: supervised", COLORS[0]),
                self.drop_trace(
                    "drop", "ours: masked pre-training", COLORS[3]
                ),
            ],
            title,
        )

    def onset_slider(self) -> go.Figure:
        """Slider over the onset: the pre-training loss with and without
        the window (left), then the fine-tuning accuracy (right); means
        over seeds."""
        pre_x = list(range(self.epochs))
        fine = self.profile.finetune_epochs
        fine_x = list(range(self.epochs, self.epochs + fine))

        def mean_curve(runs, log, key):
            return np.mean([r[log][key] for r in runs], axis=0).tolist()

        bases = [s["base"] for s in self.sweeps]
        base_loss = mean_curve(bases, "pretrain_log", "test_loss")
        base_acc = mean_curve(bases, "log", "test_acc")
        base_dir = mean_curve(bases, "log", "direction_acc")
        top = max(max(base_loss), 0.05)
        grey_dot = {"color": "#7f7f7f", "dash": "dot"}
        grey_dash = {"color": "#7f7f7f", "dash": "dash"}

        def traces(onset: float) -> list:
            runs = [self.window(int(onset), s) for s in self.seeds]
            end = onset + self.length
            loss = mean_curve(runs, "pretrain_log", "test_loss")
            return [
                go.Scatter(
                    x=[onset - 0.5, end - 0.5, end - 0.5, onset - 0.5],
                    y=[0, 0, 1.2 * top, 1.2 * top],
                    fill="toself",
                    fillcolor="rgba(255,127,14,0.15)",
                    line={"width": 0},
                    name=f"{self.deficit} window",
                    hoverinfo="skip",
                ),
                go.Scatter(
                    x=pre_x,
                    y=base_loss,
                    name="reconstruction loss, no deficit",
                    line={"color": "#7f7f7f"},
                ),
                go.Scatter(
                    x=pre_x,
                    y=loss,
                    name="reconstruction loss, window",
                    line={"color": COLORS[3]},
                ),
                *(
                    go.Scatter(
                        x=fine_x,
                        y=y,
                        name=name,
                        line=line,
                        xaxis="x2",
                        yaxis="y2",
                    )
                    for y, name, line in (
                        (base_dir, "direction, no deficit", grey_dot),
                        (
                            mean_curve(runs, "log", "direction_acc"),
                            "direction, window",
                            {"color": COLORS[2], "dash": "dot"},
                        ),
                        (base_acc, "label, no deficit", grey_dash),
                        (
                            mean_curve(runs, "log", "test_acc"),
                            "label, window",
                            {"color": COLORS[0]},
                        ),
                    )
                ),
            ]

        return slider_figure(
            self.onsets,
            traces,
            "window onset (pre-training epoch)",
            layout={
                "title": "Pre-training with the window, then fine-tuning",
                "xaxis": {
                    "domain": [0, 0.45],
                    "title": {"text": "pre-training epoch"},
                },
                "yaxis": {
                    "title": {"text": "test reconstruction loss"},
                    "range": [0, 1.2 * top],
                },
                "xaxis2": {
                    "domain": [0.55, 1],
                    "anchor": "y2",
                    "title": {"text": "epoch (fine-tuning follows)"},
                },
                "yaxis2": {
                    "anchor": "x2",
                    "title": {"text": "test accuracy (%)"},
                    "range": [0, 101],
                },
                "height": 500,
            },
            fmt="{:d}",
        )

    def rsv_figure(self) -> go.Figure:
        """Fig. 14: RSV of the no-deficit encoder's output units before
        and after fine-tuning (all seeds pooled)."""
        centres = (PAPER_BIN_EDGES[1:] + PAPER_BIN_EDGES[:-1]) / 2
        fig = go.Figure()
        for key, name, color in (
            ("rsv_before", "pre-trained, before fine-tuning", COLORS[3]),
            ("rsv", "after fine-tuning", COLORS[0]),
        ):
            pooled = np.concatenate([s["base"][key] for s in self.sweeps])
            counts, _ = histogram(pooled)
            fig.add_bar(
                x=centres.tolist(),
                y=counts.tolist(),
                name=name,
                marker={"color": color},
                opacity=0.6,
            )
        fig.update_layout(
            title="RSV of the encoder's output units, no deficit",
            barmode="overlay",
            xaxis_title="RSV (+1: frame a only, −1: frame b only)",
            yaxis_title="fraction of units",
            height=420,
        )
        return fig

    def reconstruction_figure(self) -> go.Figure:
        """Fig. 7: masked inputs, predictions and originals, both views,
        of the first seed's no-deficit pre-trained model."""
        recon = self.sweeps[0]["base"]["recon"]
        columns_a, columns_b, titles = [], [], []
        for i in range(len(recon["original"])):
            for key in ("masked", "predicted", "original"):
                images = torch.as_tensor(np.asarray(recon[key][i]))
                columns_a.append(images[0])
                columns_b.append(images[1])
                titles.append(f"{i + 1}: {key}")
        fig = frames_figure(
            torch.stack(columns_a),
            torch.stack(columns_b),
            titles,
            "Reconstructions of the pre-trained model (test clips 1 to "
            f"{len(recon['original'])}: masked input, prediction, original)",
        )
        fig.update_annotations(font={"size": 9})
        return fig

    # --- tables -----------------------------------------------------------

    def table(self) -> str:
        """Markdown: per onset, fine-tuned accuracy and paired drops."""
        lines = [
            "| onset (pre-training epoch) | normalised | label acc | "
            "label drop | vs 2 SE | content drop | direction drop | "
            "vs 2 SE |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for run, name in (("base", "none"), ("scratch", "no pre-training")):
            lines.append(
                f"| {name} | — | "
                f"{fmt(mean_sd(self.base_values('acc', run)))} | — | | "
                "— | — | |"
            )
        for s in self.onsets:
            drop = self.values(s, "drop")
            direction = self.values(s, "drop_direction")
            cells = [
                f"{self.normalised(s):.2f}",
                fmt(mean_sd(self.values(s, "acc"))),
                fmt(mean_sd(drop), sign=True),
                _verdict(drop),
                fmt(mean_sd(self.values(s, "drop_content")), sign=True),
                fmt(mean_sd(direction), sign=True),
                _verdict(direction),
            ]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def seed_table(self) -> str:
        """Markdown: per seed, the no-deficit model fine-tuned from the
        pre-trained encoder beside the same fine-tuning from a random one
        (the control), and each window's drop on the label and on the
        direction."""
        onsets = " | ".join(
            f"drop at {self.normalised(s):.2f}" for s in self.onsets
        )
        lines = [
            f"| seed | encoder | label | content | direction | {onsets} |",
            "|---|---|---|---|---|" + "---|" * len(self.onsets),
        ]
        for sweep in self.sweeps:
            base, scratch = sweep["base"], sweep["scratch"]
            drops = " | ".join(
                f"{w['drop']:+.1f} (direction {w['drop_direction']:+.1f})"
                for w in sweep["windows"]
            )
            lines.append(
                f"| {sweep['seed']} | pre-trained | {base['acc']:.1f} | "
                f"{base['content']:.1f} | {base['direction']:.1f} | "
                f"{drops} |"
            )
            blank = " | ".join("" for _ in self.onsets)
            lines.append(
                f"| {sweep['seed']} | random (control) | "
                f"{scratch['acc']:.1f} | {scratch['content']:.1f} | "
                f"{scratch['direction']:.1f} | {blank} |"
            )
        return "\n".join(lines)

    def fused_seeds(self, chance: float, run: str = "base") -> list[int]:
        """Seeds whose no-deficit (or ``scratch``) model reads the
        direction at more than twice ``chance`` (percent)."""
        return [
            s["seed"] for s in self.sweeps if s[run]["direction"] > 2 * chance
        ]
