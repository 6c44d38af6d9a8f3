"""Live explorers: sliders that recompute a text report in Jupyter.

The report is shown in an HTML widget rather than an ``interact`` Output
widget: its saved state renders in the static book, and executing the
notebook headless (papermill) does not depend on output capture, which
was seen to hang nbclient intermittently with ``interact``.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from cpkit.errors import ConfigError


def text_explorer(
    report: Callable[..., str], controls: dict[str, widgets.ValueWidget]
) -> widgets.VBox:
    """A box of ``controls`` and the text of ``report(**values)``.

    ``report`` is rerun whenever a control's value changes; a ConfigError
    it raises is shown as its one-line message instead of the report.
    """
    shown = widgets.HTML()

    def refresh(_change: object = None) -> None:
        values = {name: c.value for name, c in controls.items()}
        try:
            text = report(**values)
        except ConfigError as err:
            text = f"error: {err}"
        shown.value = f"<pre>{html.escape(text)}</pre>"

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([*controls.values(), shown])
