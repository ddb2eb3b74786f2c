"""Charts for wave pages, drawn with matplotlib as SVG."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render straight to files

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import pandas as pd  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "holdfast"  # the same chart gives the same bytes
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text, so it can be read and scaled

INK = "#0b0c0c"
BAR = "#1d70b8"


def daily_responses_svg(daily: pd.Series) -> bytes:
    """A bar chart of responses per day (the same figures are in a table on the page)."""
    figure, axes = plt.subplots(figsize=(7, 2.6), dpi=100)
    try:
        if daily.empty:
            axes.text(0.5, 0.5, "No responses yet", ha="center", va="center", color=INK, transform=axes.transAxes)
            axes.set_axis_off()
        else:
            axes.bar(daily.index, daily.to_numpy(), width=0.8, color=BAR)
            axes.set_ylabel("Responses", color=INK)
            axes.spines[["top", "right"]].set_visible(False)
            axes.yaxis.get_major_locator().set_params(integer=True)
            figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)
