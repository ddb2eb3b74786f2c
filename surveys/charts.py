"""Charts for wave pages, drawn with matplotlib as SVG."""

from __future__ import annotations

import matplotlib.pyplot as plt

from analysis.charts import BLUE as BAR, INK, svg_bytes  # also sets matplotlib up for SVG
from analysis.disclosure import DisclosedTable


def daily_responses_svg(daily: DisclosedTable | None) -> bytes:
    """A bar chart of responses per day, drawing only the days the disclosure rules let
    the page show (the same figures are in a table on the page)."""
    figure, axes = plt.subplots(figsize=(7, 2.6), dpi=100)
    try:
        shown = None if daily is None or daily.counts.empty else (
            daily.shown()["responses"].astype("Float64").fillna(0).astype(float)
        )
        if shown is None or not shown.any():
            message = "Withheld while groups are small" if daily is None else "No responses to show yet"
            axes.text(0.5, 0.5, message, ha="center", va="center", color=INK, transform=axes.transAxes)
            axes.set_axis_off()
        else:
            axes.bar(range(len(shown)), shown.to_numpy(), width=0.8, color=BAR)
            step = max(1, len(shown) // 8)
            axes.set_xticks(range(0, len(shown), step), list(shown.index)[::step])
            axes.set_ylabel("Responses", color=INK)
            axes.spines[["top", "right"]].set_visible(False)
            axes.yaxis.get_major_locator().set_params(integer=True)
            figure.autofmt_xdate()
        return svg_bytes(figure)
    finally:
        plt.close(figure)
