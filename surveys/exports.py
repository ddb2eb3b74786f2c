"""Record-level exports of a wave's responses: CSV, XLSX and SPSS .sav with value labels.

For admins and evaluators only. Panel keys are left out unless asked for. These are
one row per response, not tables of counts, so the disclosure function does not apply;
aggregate outputs go through analysis.disclosure.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyreadstat
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from surveys.question_types import TRUST_DIMENSIONS
from surveys.service import TidyData

FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "sav": ("application/x-spss-sav", "sav"),
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportTable:
    frame: pd.DataFrame
    column_labels: dict[str, str]
    value_labels: dict[str, dict[float, str]]


def export_table(data: TidyData, value_labels: dict[str, dict[int, str]], include_panel_keys: bool) -> ExportTable:
    """One row per response: identifiers, item answers, free text, then trust ratings."""
    frame = data.responses.copy()
    if not include_panel_keys:
        frame = frame.drop(columns=["panel_key"])
    labels = {"response_id": "Response", "wave": "Wave", "sector": "Sector", "place": "Place",
              "organisation": "Organisation", "panel_key": "Pseudonymous panel key"}
    values: dict[str, dict[float, str]] = {}
    for row in data.codebook.itertuples():
        labels[row.item] = f"{row.text} ({row.label})" if row.label else row.text
        if row.type in ("likert", "single"):
            values[row.item] = {float(v): label for v, label in value_labels.get(row.item, {}).items()}
        elif row.type == "multi":
            values[row.item] = {0.0: "Not chosen", 1.0: "Chosen"}
    if not data.text.empty:
        text = data.text.pivot_table(index="response_id", columns="item", values="text", aggfunc="first")
        frame = frame.join(text, on="response_id")
        labels.update({column: f"Free text: {column}" for column in text.columns})
    if not data.trust.empty:
        # Short names by sector id (SPSS allows 64 characters); the sector's name is the label.
        trust = data.trust.assign(
            column=lambda t: "trust_" + t["target_sector_id"].astype(str) + "_" + t["dimension"]
        ).pivot_table(index="response_id", columns="column", values="value", aggfunc="first")
        frame = frame.join(trust, on="response_id")
        targets = data.trust.drop_duplicates("target_sector_id")
        for target_id, target in zip(targets["target_sector_id"], targets["target_sector"]):
            for dimension, (question, levels) in TRUST_DIMENSIONS.items():
                column = f"trust_{target_id}_{dimension}"
                labels[column] = f"Trust in {target}: {question}"
                values[column] = {float(i): level for i, level in enumerate(levels, start=1)}
    return ExportTable(frame, labels, values)


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


def to_csv(table: ExportTable) -> bytes:
    return _defuse(table.frame).to_csv(index=False).encode("utf-8-sig")


def compare_files(data: TidyData, include_panel_keys: bool) -> tuple[bytes, bytes]:
    """Every wave's responses and the codebook of the scored questions, in the shapes the
    `flask compare` command reads, so anyone can rerun the comparison outside Holdfast."""
    scored = data.codebook[data.codebook["construct"].notna() & data.codebook["min"].notna()]
    identifiers = ["response_id", "wave", "sector", "place", "organisation"] + (["panel_key"] if include_panel_keys else [])
    responses = _defuse(data.responses[identifiers + scored["item"].tolist()])
    codebook = _defuse(scored[["item", "construct", "reverse", "min", "max", "text"]])
    return (responses.to_csv(index=False).encode("utf-8-sig"), codebook.to_csv(index=False).encode("utf-8-sig"))


def to_xlsx(table: ExportTable, codebook: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _defuse(table.frame).to_excel(writer, sheet_name="responses", index=False)
        _defuse(codebook).to_excel(writer, sheet_name="codebook", index=False)
    return buffer.getvalue()


def to_sav(table: ExportTable) -> bytes:
    frame = table.frame.copy()
    for column in _text_columns(frame):
        frame[column] = frame[column].fillna("").astype(object)
    labels = {column: table.column_labels.get(column, column)[:255] for column in frame.columns}
    values = {column: mapping for column, mapping in table.value_labels.items() if column in frame.columns}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        pyreadstat.write_sav(frame, path, column_labels=labels, variable_value_labels=values)
        return path.read_bytes()
