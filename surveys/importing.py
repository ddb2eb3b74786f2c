"""Importing responses collected in another survey tool, from a CSV file.

Upload → map columns to questions → map text answers to numbers → preview → import.
All or nothing: one bad row and nothing is written, with every problem reported.

Importing is done place by place: rows may name only `places`, the survey's places the
person importing may act for (surveys.service.places_for), and organisations in them. A
coordinator of some of a survey's places imports for those; a file of a survey with
several places always names the place of each row (save_columns asks for it).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditAction
from core.db import utcnow
from core.models import Organisation, Place, Sector, User
from core.service import ServiceError
from surveys.models import Item, ResponseImport, Wave, WaveStatus
from surveys.question_types import TrustMatrixQuestion, question_type
from surveys.service import Respondent, insert_response

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 300
CELL_MAX = 5000
RESPONDENT_FIELDS = {"sector": "Sector", "place": "Place", "organisation": "Organisation"}
CHOICE_TYPES = ("likert", "single", "multi")
MULTI_SEPARATORS = (";", "|")


@dataclass(frozen=True)
class ParsedFile:
    headers: list[str]
    rows: list[list[str]]  # each padded to the header length


def parse_file(data: bytes) -> ParsedFile:
    """Read an uploaded CSV, or raise ServiceError saying plainly what is wrong with it."""
    if not data.strip():
        raise ServiceError("file", "The file is empty")
    if len(data) > MAX_BYTES:
        raise ServiceError("file", "The file must be smaller than 5 MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("file", "The file must be a CSV saved as UTF-8") from None
    if "\x00" in text:
        raise ServiceError("file", "The file must be a CSV, not a spreadsheet or other binary file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        records = [row for row in csv.reader(io.StringIO(text, newline=""), dialect) if any(c.strip() for c in row)]
    except csv.Error as error:
        raise ServiceError("file", f"The file could not be read as CSV: {error}") from None
    if len(records) < 2:
        raise ServiceError("file", "The file needs a header row and at least one response")
    headers = [h.strip() for h in records[0]]
    if len(headers) > MAX_COLUMNS:
        raise ServiceError("file", f"The file must have at most {MAX_COLUMNS} columns")
    if any(not h for h in headers) or len(set(headers)) != len(headers):
        raise ServiceError("file", "Every column needs a name in the first row, and no two the same")
    if len(records) - 1 > MAX_ROWS:
        raise ServiceError("file", f"The file must have at most {MAX_ROWS} responses")
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if len(record) > len(headers):
            raise ServiceError("file", f"Row {line} has more cells than there are column names")
        if any(len(cell) > CELL_MAX for cell in record):
            raise ServiceError("file", f"Row {line} has a cell longer than {CELL_MAX} characters")
        rows.append([cell.strip() for cell in record] + [""] * (len(headers) - len(record)))
    return ParsedFile(headers, rows)


def importable_items(wave: Wave) -> list[Item]:
    return [item for item in wave.instrument.items if item.type != TrustMatrixQuestion.name]


def start_import(session: Session, wave: Wave, user: User, filename: str, data: bytes) -> ResponseImport:
    if wave.status == WaveStatus.DRAFT:
        raise ServiceError("file", "Open the wave before importing responses into it")
    parsed = parse_file(data)
    record = ResponseImport(
        wave_id=wave.id,
        user_id=user.id,
        filename=(filename or "responses.csv")[:255],
        content=data.decode("utf-8-sig"),
        columns=suggest_columns(parsed.headers, importable_items(wave)),
    )
    session.add(record)
    session.commit()
    return record


def suggest_columns(headers: list[str], items: list[Item]) -> dict[str, str]:
    """Match columns named like an item's code or text, or like sector/place/organisation."""
    by_name = {item.code.lower(): item.code for item in items}
    by_name |= {item.text.strip().lower(): item.code for item in items}
    by_name |= {field: field for field in RESPONDENT_FIELDS}
    suggested = {}
    for header in headers:
        target = by_name.get(header.strip().lower())
        if target and target not in suggested.values():
            suggested[header] = target
    return suggested


def save_columns(session: Session, record: ResponseImport, columns: dict[str, str]) -> None:
    wave = record.wave
    codes = {item.code for item in importable_items(wave)} | set(RESPONDENT_FIELDS)
    chosen = {column: target for column, target in columns.items() if target}
    if not set(chosen.values()) <= codes:
        raise ServiceError("columns", "Match columns only to the questions listed")
    targets = list(chosen.values())
    duplicate = next((t for t in targets if targets.count(t) > 1), None)
    if duplicate:
        raise ServiceError("columns", f"Only one column can be matched to {duplicate}")
    if "sector" not in targets:
        raise ServiceError("columns", "Match one column to Sector: every response needs a sector")
    if "place" not in targets and len(wave.survey.places) > 1:
        raise ServiceError("columns", "Match one column to Place: this survey covers several places")
    if not set(targets) - set(RESPONDENT_FIELDS):
        raise ServiceError("columns", "Match at least one column to a question")
    record.columns = chosen
    record.values = {}
    session.commit()


@dataclass(frozen=True)
class ValueQuestion:
    """A column whose text answers need a number: the texts found and the choices."""

    column: str
    target: str
    texts: list[str]
    choices: list[tuple[Any, str]]
    suggested: dict[str, Any]


def value_questions(session: Session, record: ResponseImport, places: list[Place]) -> list[ValueQuestion]:
    parsed = parse_file(record.content.encode())
    index = {header: i for i, header in enumerate(parsed.headers)}
    items = {item.code: item for item in importable_items(record.wave)}
    questions = []
    for column, target in record.columns.items():
        choices = _choices(session, target, items, places)
        if choices is None:
            continue
        cells = [row[index[column]] for row in parsed.rows]
        if target in RESPONDENT_FIELDS:  # a sector, place or organisation: the whole cell
            texts = sorted({cell for cell in cells if cell})
        else:  # an answer: each choice named in the cell that is not already a number
            texts = sorted({
                part for cell in cells for part in _split(cell, target, items) if part and not _is_number(part)
            })
        if not texts:
            continue
        by_label = {label.casefold(): value for value, label in choices}
        saved = (record.values or {}).get(column, {})
        suggested = {text: saved.get(text, by_label.get(text.casefold())) for text in texts}
        questions.append(ValueQuestion(column, target, texts, choices, suggested))
    return questions


def _choices(session, target, items, places: list[Place]) -> list[tuple[Any, str]] | None:
    if target == "sector":
        return [(s.id, s.name) for s in session.scalars(select(Sector).order_by(Sector.position))]
    if target == "place":
        return [(p.id, p.name) for p in places]
    if target == "organisation":
        place_ids = [p.id for p in places]
        return [(o.id, o.name) for o in session.scalars(select(Organisation).where(Organisation.place_id.in_(place_ids)))]
    item = items[target]
    if item.type in CHOICE_TYPES:
        return [(c["value"], c["label"]) for c in item.options["choices"]]
    return None


def save_values(session: Session, record: ResponseImport, values: dict[str, dict[str, Any]]) -> None:
    record.values = values
    session.commit()


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _split(cell: str, target: str, items: dict[str, Item]) -> list[str]:
    item = items.get(target)
    if item is not None and item.type == "multi":
        for separator in MULTI_SEPARATORS:
            cell = cell.replace(separator, ",")
        return [part.strip() for part in cell.split(",")]
    return [cell]


@dataclass(frozen=True)
class ImportPreview:
    rows: list[tuple[int, Respondent, dict[str, Any]]]  # line in the file, who, answers
    errors: list[tuple[int, str]]

    @property
    def ok(self) -> bool:
        return not self.errors


def preview(session: Session, record: ResponseImport, places: list[Place]) -> ImportPreview:
    """Convert every row, collecting every problem; nothing is written."""
    parsed = parse_file(record.content.encode())
    index = {header: i for i, header in enumerate(parsed.headers)}
    wave = record.wave
    items = {item.code: item for item in importable_items(wave)}
    by_target = {target: column for column, target in record.columns.items()}
    values = record.values or {}
    single_place = wave.survey.places[0].id if len(wave.survey.places) == 1 else None
    lookups = {
        field: {label.casefold(): value for value, label in _choices(session, field, items, places)}
        for field in RESPONDENT_FIELDS
    }
    converted, errors = [], []
    for line, row in enumerate(parsed.rows, start=2):
        problems: list[str] = []

        def respondent_field(field: str):
            column = by_target.get(field)
            if column is None:
                return None
            text = row[index[column]]
            if not text:
                return None
            mapped = values.get(column, {}).get(text)
            found = mapped if mapped is not None else lookups[field].get(text.casefold())
            # Checked against the lookups, not just found: a matching saved earlier must
            # still name one of `places` (or an organisation in one).
            if found not in lookups[field].values():
                problems.append(
                    f"place ‘{text}’ is not one you can import into" if field == "place"
                    else f"{RESPONDENT_FIELDS[field].lower()} ‘{text}’ is not known"
                )
                return None
            return found

        sector_id = respondent_field("sector")
        place_id = respondent_field("place") or single_place
        organisation_id = respondent_field("organisation")
        if sector_id is None and not any("sector" in p for p in problems):
            problems.append("sector is empty")
        if place_id is None and not any("place" in p for p in problems):
            problems.append("place is empty")

        answers: dict[str, Any] = {}
        for code, item in items.items():
            column = by_target.get(code)
            if column is None:
                continue
            value, problem = _convert(item, row[index[column]], values.get(column, {}))
            if problem:
                problems.append(f"{column}: {problem}")
            answers[code] = value
        if problems:
            message = "; ".join(problems)
            errors.append((line, message[0].upper() + message[1:]))
        else:
            converted.append((line, Respondent(sector_id, place_id, organisation_id, None, "import"), answers))
    return ImportPreview(converted, errors)


def _convert(item: Item, cell: str, labels: dict[str, Any]) -> tuple[Any, str | None]:
    """One cell to a draft value, checked against the item (blank is allowed: not answered).

    Words are turned into numbers by the coordinator's matching, else by the item's own
    choice labels (ignoring case), as the matching screen suggested."""
    kind = question_type(item.type)
    if not cell:
        return None, None
    own_labels = {label.casefold(): value for value, label in kind.value_labels(item).items()}
    labels = {**{text: own_labels[text.casefold()] for text in _split(cell, item.code, {item.code: item})
                 if text.casefold() in own_labels}, **labels}
    if item.type == "text":
        value = cell
    elif item.type == "number":
        if not _is_number(cell.replace(",", "")):
            return None, f"‘{cell}’ is not a number"
        value = float(cell.replace(",", ""))
    elif item.type == "multi":
        value = []
        for part in _split(cell, item.code, {item.code: item}):
            number = labels.get(part) if not _is_number(part) else float(part)
            if number is None or float(number) != int(float(number)):
                return None, f"‘{part}’ is not one of the choices"
            value.append(int(float(number)))
        value = sorted(set(value))
    else:
        number = labels.get(cell) if not _is_number(cell) else float(cell)
        if number is None or float(number) != int(float(number)):
            return None, f"‘{cell}’ is not one of the choices"
        value = int(float(number))
    problem = kind.error(item, value)
    if problem:
        return None, f"‘{cell}’: {problem[0].lower() + problem[1:]}"
    return value, None


def commit_import(session: Session, record: ResponseImport, places: list[Place], *, actor: User | None) -> int:
    """Write every row in one transaction, or nothing. Running it twice imports once."""
    if record.imported_at is not None:
        return record.imported_count or 0
    result = preview(session, record, places)
    if not result.ok:
        problems = "1 row has a problem" if len(result.errors) == 1 else f"{len(result.errors)} rows have problems"
        raise ServiceError("file", f"{problems}: nothing was imported")
    wave = record.wave
    now = utcnow()
    for line, respondent, answers in result.rows:
        insert_response(session, wave, respondent, answers, f"import-{record.id}-{line}", now)
    record.imported_at, record.imported_count = now, len(result.rows)
    audit.record(
        session, actor, AuditAction.RESPONSES_IMPORTED, wave=wave,
        detail=f"{audit.count_of_responses(len(result.rows), wave.survey.k_internal)} imported into {wave.label}"
        f" from {record.filename}",
        data={"count": len(result.rows), "filename": record.filename, "import_id": record.id},
    )
    session.commit()
    return len(result.rows)


def get_import(session: Session, import_id: int) -> ResponseImport | None:
    return session.get(ResponseImport, import_id)
