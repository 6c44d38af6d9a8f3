"""Plotly figures for the book: display that works offline, and sliders.

The book loads one local copy of plotly.js per page, so figures are shown
as HTML fragments without the library (``include_plotlyjs=False``); the
plotly JSON goes along for Jupyter front ends that render it natively.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

#: one colour per pathway / sensor, used in every chapter
PATHWAY_COLORS = {"a": "#1f77b4", "b": "#d62728", "both": "#2ca02c"}


def _f4(array: np.ndarray) -> dict:
    """plotly's typed-array JSON form of ``array`` as float32."""
    array = np.asarray(array, dtype="<f4")
    out = {"dtype": "f4", "bdata": base64.b64encode(array.tobytes()).decode()}
    if array.ndim > 1:
        out["shape"] = ", ".join(str(n) for n in array.shape)
    return out


def _compact(node: object) -> object:
    """Copy of a plotly JSON tree with float arrays stored as float32.

    Halves the page weight; lists of numbers with None gaps become arrays
    with NaN gaps, which plotly draws the same way.
    """
    if isinstance(node, dict):
        if node.get("dtype") == "f8" and "bdata" in node:
            raw = np.frombuffer(base64.b64decode(node["bdata"]), "<f8")
            if "shape" in node:
                shape = [int(n) for n in str(node["shape"]).split(",")]
                raw = raw.reshape(shape)
            return _f4(raw)
        return {key: _compact(value) for key, value in node.items()}
    if isinstance(node, np.ndarray) and node.dtype.kind == "f":
        return _f4(node)
    if isinstance(node, (list, tuple)) and len(node) > 8:
        numeric = all(
            v is None
            or (isinstance(v, (int, float)) and not isinstance(v, bool))
            for v in node
        )
        if numeric:
            return _f4([np.nan if v is None else v for v in node])
    if isinstance(node, (list, tuple)):
        return [_compact(value) for value in node]
    return node


def show(fig: go.Figure) -> None:
    """Display ``fig`` in a notebook so that the static book keeps it."""
    from IPython.display import display

    spec = _compact(fig.to_plotly_json())
    html = pio.to_html(
        spec,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        auto_play=False,
        validate=False,
    )
    display(
        {
            "application/vnd.plotly.v1+json": json.loads(
                pio.to_json(spec, validate=False)
            ),
            "text/html": html,
        },
        raw=True,
    )


def slider_figure(
    values: Sequence[float],
    traces_for: Callable[[float], list[go.BaseTraceType]],
    label: str,
    layout: go.Layout | dict | None = None,
    active: int = 0,
    fmt: str = "{:g}",
) -> go.Figure:
    """A figure whose slider steps through precomputed ``values``.

    ``traces_for(value)`` must return the same number of traces for every
    value; the slider swaps their data without a kernel, so it works in
    the static HTML book.
    """
    if not values:
        raise ValueError("slider_figure needs at least one value")
    names = [fmt.format(v) for v in values]
    frames = [
        go.Frame(data=traces_for(v), name=name)
        for v, name in zip(values, names, strict=True)
    ]
    fig = go.Figure(data=frames[active].data, frames=frames, layout=layout)
    steps = [
        {
            "method": "animate",
            "label": name,
            "args": [
                [name],
                {
                    "mode": "immediate",
                    "frame": {"duration": 0, "redraw": True},
                    "transition": {"duration": 0},
                },
            ],
        }
        for name in names
    ]
    fig.update_layout(
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": f"{label} = "},
                "pad": {"t": 40},
                "steps": steps,
            }
        ]
    )
    return fig


def provenance(fig: go.Figure, text: str, width: int = 90) -> go.Figure:
    """State what was run to make ``fig`` in a grey line under its title.

    Kept above the plot, where it cannot collide with sliders, legends or
    axis titles; long text wraps at ``width`` characters.
    """
    lines = textwrap.wrap(text, width) or [""]
    subtitle = "<br>".join(lines)
    title = fig.layout.title.text or ""
    title_lines = title.count("<br>") + 1 if title else 0
    top = 70 + 16 * len(lines) + 24 * title_lines
    fig.update_layout(
        title={
            "text": title,
            "subtitle": {
                "text": subtitle,
                "font": {"size": 11, "color": "#666"},
            },
            "x": 0.0,
            "xanchor": "left",
        },
        margin={"t": top},
    )
    return fig
