"""Record-level exports of a wave's responses: CSV, XLSX and SPSS .sav with value labels.

For admins and evaluators only. Panel keys are left out unless asked for. These are
one row per response, not tables of counts, so the disclosure function does not apply;
aggregate outputs go through analysis.disclosure.

"Don't know" (an agreement question answered that way) is no score: CSV and XLSX cells
read "Don't know", the label; in SPSS it is the code -1 labelled "Don't know" and
declared a user-missing value, so SPSS leaves it out of every statistic; the files for
`holdfast compare` carry the label, which the command reads as no answer. An export with
no "Don't know" answer in it is exactly as it was before the answer existed.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyreadstat
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from surveys.models import Item
from surveys.question_types import DONT_KNOW_CODE, DONT_KNOW_LABEL, TRUST_DIMENSIONS, question_type
from surveys.service import TidyData

FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "sav": ("application/x-spss-sav", "sav"),
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# The columns that say whose response a row is, with their variable labels.
IDENTIFIERS = {
    "response_id": "Response",
    "wave": "Wave",
    "sector": "Sector",
    "place": "Place",
    "organisation": "Organisation",
    "panel_key": "Pseudonymous panel key",
}
# SPSS measure by question type: agreement scales and trust ratings are ordered levels,
# choices are categories, numbers are counts.
MEASURES = {
    "identifier": "nominal",
    "likert": "ordinal",
    "trust_matrix": "ordinal",
    "single": "nominal",
    "multi": "nominal",
    "number": "scale",
    "text": "nominal",
}
MULTI_LABELS = {0.0: "Not chosen", 1.0: "Chosen"}
CODEBOOK_COLUMNS = [
    "item", "label", "value_labels", "type", "measure", "construct", "reverse", "min", "max", "breaks_trend", "text",
]


@dataclass(frozen=True)
class Column:
    """What the codebook says about one exported column."""

    name: str
    label: str
    type: str
    values: dict[float, str] = field(default_factory=dict)
    text: str = ""
    construct: str | None = None
    reverse: int | None = None
    min: float | None = None
    max: float | None = None
    breaks_trend: bool | None = None

    @property
    def measure(self) -> str:
        return MEASURES[self.type]

    def codebook_row(self) -> dict:
        return {
            "item": self.name,
            "label": self.label,
            "value_labels": "; ".join(f"{value:g} = {label}" for value, label in self.values.items()),
            "type": self.type,
            "measure": self.measure,
            "construct": self.construct,
            "reverse": self.reverse,
            "min": self.min,
            "max": self.max,
            "breaks_trend": self.breaks_trend,
            "text": self.text,
        }


@dataclass(frozen=True)
class ExportTable:
    frame: pd.DataFrame  # "Don't know" as DONT_KNOW_CODE
    column_labels: dict[str, str]
    value_labels: dict[str, dict[float, str]]
    measures: dict[str, str]
    codebook: pd.DataFrame
    # Per column, the codes that mean no answer ("Don't know"): SPSS user-missing values.
    missing: dict[str, list[float]] = field(default_factory=dict)


def _dont_know_cells(data: TidyData) -> pd.DataFrame:
    return data.dont_know


def export_table(data: TidyData, items: Iterable[Item], include_panel_keys: bool) -> ExportTable:
    """One row per response: the identifiers, then every question's columns in the order
    the questionnaire asks them (free text where its question sits, the trust matrix as
    one column per rated sector, by sector, and dimension), each documented in `codebook`.

    `items` are the questions of the exported waves, in questionnaire order (latest
    version first when there are several: the first item with a code wins).
    """
    questions: dict[str, Item] = {}
    for item in items:
        questions.setdefault(item.code, item)
    scored = {row["item"]: row for row in data.codebook.to_dict("records")}
    dont_know = _dont_know_cells(data)
    dont_know_items = set(dont_know["item"])

    columns = [
        Column(name, label, "identifier")
        for name, label in IDENTIFIERS.items()
        if name != "panel_key" or include_panel_keys
    ]
    trust_columns = _trust_columns(data.trust)
    for code, item in questions.items():
        if item.type == "trust_matrix":
            columns += trust_columns
            trust_columns = []
        elif item.type == "text":
            columns.append(Column(code, item.text or f"Free text: {code}", "text", text=item.text))
        elif item.type == "multi":
            for value, choice in question_type("multi").value_labels(item).items():
                name = f"{code}_{value}"
                label = f"{item.text} ({choice})"
                columns.append(_scored_column(name, label, item.type, MULTI_LABELS, scored.get(name), item.text))
        else:
            labels = {float(v): label for v, label in question_type(item.type).value_labels(item).items()}
            if code in dont_know_items:
                labels[float(DONT_KNOW_CODE)] = DONT_KNOW_LABEL
            columns.append(_scored_column(code, item.text, item.type, labels, scored.get(code), item.text))
    # Anything answered that `items` does not name still goes out, documented as far as known.
    placed = {column.name for column in columns}
    for name in data.codebook["item"]:
        if name not in placed and name in data.responses.columns:
            row = scored[name]
            label = f"{row['text']} ({row['label']})" if row["label"] else row["text"]
            values = MULTI_LABELS if row["type"] == "multi" else {}
            columns.append(_scored_column(name, label, row["type"], values, row))
    text_codes = data.text["item"].unique() if not data.text.empty else []
    columns += [Column(code, f"Free text: {code}", "text") for code in text_codes if code not in questions]
    columns += trust_columns

    frame = data.responses
    if not data.text.empty:
        text = data.text.pivot_table(index="response_id", columns="item", values="text", aggfunc="first")
        frame = frame.join(text, on="response_id")
    if not data.trust.empty:
        trust = data.trust.assign(
            column=lambda t: "trust_" + t["target_sector_id"].astype(str) + "_" + t["dimension"]
        ).pivot_table(index="response_id", columns="column", values="value", aggfunc="first")
        frame = frame.join(trust, on="response_id")
    frame = frame.reindex(columns=[column.name for column in columns])
    for column in columns:
        if column.type == "text":
            frame[column.name] = frame[column.name].astype(object)
    missing: dict[str, list[float]] = {}
    if not dont_know.empty:
        frame = frame.copy()
        for code, given in dont_know.groupby("item"):
            if code in frame.columns:
                frame.loc[frame["response_id"].isin(given["response_id"]), code] = float(DONT_KNOW_CODE)
                missing[code] = [float(DONT_KNOW_CODE)]
    return ExportTable(
        frame=frame,
        column_labels={column.name: column.label for column in columns},
        value_labels={column.name: column.values for column in columns if column.values},
        measures={column.name: column.measure for column in columns},
        codebook=pd.DataFrame([column.codebook_row() for column in columns], columns=CODEBOOK_COLUMNS),
        missing=missing,
    )


def _scored_column(
    name: str, label: str, kind: str, values: dict[float, str], row: dict | None, text: str | None = None
) -> Column:
    """An answer column, with its construct, direction and range from the tidy codebook."""
    row = row or {}
    return Column(
        name, label or name, kind, values, text=text if text is not None else row.get("text", ""),
        construct=row.get("construct"),
        reverse=row.get("reverse"), min=row.get("min"), max=row.get("max"), breaks_trend=row.get("breaks_trend"),
    )


def _trust_columns(trust: pd.DataFrame) -> list[Column]:
    """Every dimension for every sector rated, by sector id (so trust_2 comes before
    trust_10), then in the order the questionnaire asks the dimensions. Short names by
    sector id (SPSS allows 64 characters); the sector's name is in the label."""
    if trust.empty:
        return []
    targets = trust.drop_duplicates("target_sector_id").sort_values("target_sector_id", kind="stable")
    return [
        Column(
            f"trust_{target_id}_{dimension}", f"Trust in {target}: {question}", "trust_matrix",
            {float(i): level for i, level in enumerate(levels, start=1)},
            text=question, reverse=0, min=1, max=len(levels),
        )
        for target_id, target in zip(targets["target_sector_id"], targets["target_sector"])
        for dimension, (question, levels) in TRUST_DIMENSIONS.items()
    ]


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) or pd.api.types.is_object_dtype(frame[c])]


def _defuse(frame: pd.DataFrame) -> pd.DataFrame:
    """Spreadsheets run cells that start with = + - @ as formulas: make them plain text.
    Control characters a spreadsheet cannot hold are dropped."""
    safe = frame.copy()
    for column in _text_columns(safe):
        safe[column] = safe[column].map(safe_text)
    return safe


def safe_text(value):
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _labelled(table: ExportTable) -> pd.DataFrame:
    """The frame for CSV and XLSX: "Don't know" written as its label, not its SPSS code."""
    if not table.missing:
        return table.frame
    frame = table.frame.copy()
    for column in table.missing:
        values = frame[column].astype(object)
        frame[column] = values.where(values != float(DONT_KNOW_CODE), DONT_KNOW_LABEL)
    return frame


def to_csv(table: ExportTable) -> bytes:
    return _defuse(_labelled(table)).to_csv(index=False).encode("utf-8-sig")


def compare_files(data: TidyData, include_panel_keys: bool) -> tuple[bytes, bytes]:
    """Every wave's responses and the codebook of the scored questions, in the shapes the
    `flask compare` command reads, so anyone can rerun the comparison outside Holdfast."""
    scored = data.codebook[data.codebook["construct"].notna() & data.codebook["min"].notna()]
    identifiers = ["response_id", "wave", "sector", "place", "organisation"] + (["panel_key"] if include_panel_keys else [])
    responses = data.responses[identifiers + scored["item"].tolist()]
    dont_know = _dont_know_cells(data)
    if not dont_know.empty:
        # The label, which `holdfast compare` reads as no answer (analysis.cli.MISSING_TOKENS).
        responses = responses.copy()
        for code, given in dont_know.groupby("item"):
            if code in responses.columns:
                chosen = responses["response_id"].isin(given["response_id"])
                responses[code] = responses[code].astype(object).where(~chosen, DONT_KNOW_LABEL)
    responses = _defuse(responses)
    codebook = _defuse(scored[["item", "construct", "reverse", "min", "max", "text"]])
    return (responses.to_csv(index=False).encode("utf-8-sig"), codebook.to_csv(index=False).encode("utf-8-sig"))


def to_xlsx(table: ExportTable) -> bytes:
    """The responses, and a codebook sheet with one row per column of the responses sheet."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _defuse(_labelled(table)).to_excel(writer, sheet_name="responses", index=False)
        _defuse(table.codebook).to_excel(writer, sheet_name="codebook", index=False)
    return buffer.getvalue()


def to_sav(table: ExportTable) -> bytes:
    frame = table.frame.copy()
    for column in _text_columns(frame):
        frame[column] = frame[column].fillna("").astype(object)
    labels = {column: table.column_labels.get(column, column)[:255] for column in frame.columns}
    values = {column: mapping for column, mapping in table.value_labels.items() if column in frame.columns}
    measures = {column: table.measures.get(column, "unknown") for column in frame.columns}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        missing = {column: codes for column, codes in table.missing.items() if column in frame.columns}
        pyreadstat.write_sav(
            frame, path, column_labels=labels, variable_value_labels=values, variable_measure=measures,
            missing_ranges=missing or None,
        )
        return path.read_bytes()
