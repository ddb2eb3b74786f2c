"""Charts of results, drawn with matplotlib as SVG. They draw only what disclosure lets a
page show: they take the rows of analysis.tables, never the raw results. Every chart
sits beside a table with the same figures."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render straight to files

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

matplotlib.rcParams["svg.hashsalt"] = "holdfast"  # the same chart gives the same bytes
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text, so it can be read and scaled
matplotlib.rcParams["text.parse_math"] = False  # a "$" in a wave or sector name is just a "$"

INK = "#0b0c0c"
BLUE = "#1d70b8"
GREY = "#505a5f"
BAND = "#f3f2f1"


def svg_bytes(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def trend_svg(rows: list[dict], scale: tuple[float, float] | None = None) -> bytes:
    """Mean per wave with its 90% CI; a withheld wave is a gap, labelled."""
    figure, axes = plt.subplots(figsize=(7, 3), dpi=100)
    try:
        positions = range(len(rows))
        for x, row in zip(positions, rows):
            if row["mean"] is None:
                axes.annotate("withheld", (x, 0.5), xycoords=("data", "axes fraction"), ha="center", color=GREY)
                continue
            low, high = row["ci90"] or (row["mean"], row["mean"])
            axes.errorbar(x, row["mean"], yerr=[[row["mean"] - low], [high - row["mean"]]], fmt="o",
                          color=BLUE, ecolor=BLUE, capsize=4)
        shown = [(x, r["mean"]) for x, r in zip(positions, rows) if r["mean"] is not None]
        if len(shown) > 1:
            axes.plot(*zip(*shown), color=BLUE, linewidth=1, alpha=0.6)
        axes.set_xticks(list(positions), [row["wave"] for row in rows])
        axes.set_xlim(-0.5, len(rows) - 0.5)
        if scale:
            axes.set_ylim(*scale)
        axes.set_ylabel("Mean score (90% CI)", color=INK)
        axes.spines[["top", "right"]].set_visible(False)
        return svg_bytes(figure)
    finally:
        plt.close(figure)


def change_svg(rows: list[dict], names: dict[str, str]) -> bytes:
    """Dot and whisker: each construct's change with the interval its verdict is read
    from (simultaneous across the constructs), the margin shaded."""
    tested = [row for row in rows if row.get("ci_simultaneous")]
    figure, axes = plt.subplots(figsize=(7, 0.45 * max(len(rows), 2) + 0.9), dpi=100)
    try:
        labels = [names.get(row["construct"], row["construct"]) for row in rows]
        for y, row in enumerate(rows):
            axes.fill_betweenx([y - 0.4, y + 0.4], -row["margin"], 0, color=BAND, linewidth=0)
            if not row.get("ci_simultaneous"):
                words = "too few responses" if row.get("difference") is None else "no spread: no interval"
                axes.annotate(words, (0, y), ha="center", va="center", color=GREY, fontsize=8)
                continue
            low, high = row["ci_simultaneous"]
            axes.errorbar(row["difference"], y, xerr=[[row["difference"] - low], [high - row["difference"]]],
                          fmt="o", color=BLUE, ecolor=BLUE, capsize=3)
        axes.axvline(0, color=INK, linewidth=0.8)
        axes.set_yticks(range(len(rows)), labels)
        axes.invert_yaxis()
        reach = max([abs(v) for row in tested for v in row["ci_simultaneous"]] + [row["margin"] for row in rows] + [0.1])
        axes.set_xlim(-reach * 1.15, reach * 1.15)
        axes.set_xlabel("Change since the reference wave\n(the interval each verdict is read from;\nshaded: the margin)",
                        color=INK)
        axes.spines[["top", "right"]].set_visible(False)
        return svg_bytes(figure)
    finally:
        plt.close(figure)
