"""Importing responses collected in another survey tool, from a CSV file or an Excel
workbook (.xlsx, first sheet; workbooks with macros are refused).

Upload → map columns to questions → match the answers in words → preview → import.
All or nothing: one bad row and nothing is written, with every problem reported.

Answers in words are matched once per distinct set of choices (all agreement questions
together), each suggested from its label or code ("strongly_agree", "5 - Strongly
agree"), "N/A", "Prefer not to say" and the like as no answer, "Don't know" as Don't
know where the question offers it. A suggestion is only a preselection: words are used
only as the user confirmed them (save_values). The confirmed matching, and the columns,
are remembered for the survey (Survey.import_mapping) and suggested for its next file.
KoboToolbox `group/name` headings match the question `name`; trust-matrix columns are
named as exports name them (trust_<sector id>_<dimension>, 1–4).

Nothing is imported twice: a file already imported into the wave is refused, and rows
already there are left out (recognised by the other tool's response id where a column
is matched to it, otherwise by who answered what). A whole import can be undone, or
replaced by a corrected file: its responses go together (and the corrected file's come),
in one transaction. See surveys.import_ledger.

Importing is done place by place: rows may name only `places`, the survey's places the
person importing may act for (surveys.service.places_for), and organisations in them. A
coordinator of some of a survey's places imports for those; a file of a survey with
several places always names the place of each row (save_columns asks for it).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import re
import warnings
import zipfile
from datetime import date, datetime, time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditAction
from core.db import start_writing, utcnow
from core.models import Organisation, Place, Sector, User
from core.service import ServiceError
from surveys.import_ledger import ImportedFile, ImportedRow
from surveys.models import Answer, Item, Response, ResponseImport, TrustRating, Wave, WaveStatus
from surveys.question_types import (
    DONT_KNOW,
    DONT_KNOW_LABEL,
    TRUST_DIMENSIONS,
    LikertQuestion,
    TrustMatrixQuestion,
    question_type,
)
from surveys.respondent import offers_dont_know
from surveys.service import Respondent, insert_response

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 300
CELL_MAX = 5000
RESPONDENT_FIELDS = {"sector": "Sector", "place": "Place", "organisation": "Organisation"}
# The other tool's own id for each response: how a row is recognised in a later file.
SOURCE_ID = "source_id"
COLUMN_FIELDS = {SOURCE_ID: "Response ID in the other tool", **RESPONDENT_FIELDS}
# Headings other tools give their response ids (LimeSurvey, Qualtrics, SurveyMonkey,
# KoboToolbox, Microsoft Forms, Google Forms via add-ons), best first.
SOURCE_ID_HEADERS = ("response id", "responseid", "response_id", "respondent id", "respondent_id", "_uuid",
                     "submission id", "id", "_id")
CHOICE_TYPES = ("likert", "single", "multi")
MULTI_SEPARATORS = (";", "|")
# What an answer in the file may be matched to besides a choice: no answer at all (as a
# blank cell is), or, where the question offers it, "Don't know" (stored as such).
NO_ANSWER = "no_answer"
NO_ANSWER_LABEL = "No answer"
# Labels suggested as no answer, and as "Don't know", compared as `_normalised` gives them.
NO_ANSWER_TEXTS = {"", "na", "nan", "notapplicable", "prefernottosay", "prefernottoanswer", "rathernotsay",
                   "noanswer", "notanswered", "noresponse", "refused", "skipped", "missing", "none"}
DONT_KNOW_TEXTS = {"dontknow", "donotknow", "dk", "dontknowcantsay", "notsure", "unsure", "cantsay"}
# Trust-matrix columns are named as exports name them: trust_<sector id>_<dimension>.
TRUST_COLUMN = re.compile(r"^trust_(\d+)_(" + "|".join(TRUST_DIMENSIONS) + r")$")


@dataclass(frozen=True)
class ParsedFile:
    headers: list[str]
    rows: list[list[str]]  # each padded to the header length


# An uploaded workbook is kept as its bytes, in base64 after this prefix (no CSV starts so:
# its first row is column names), so that the content hash is of the file as uploaded.
XLSX_PREFIX = "xlsx-base64:"
XLSX_UNPACKED_MAX = 100 * 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls, .xlsb saved the old way, and other Office binaries


def parse_file(data: bytes) -> ParsedFile:
    """Read an uploaded CSV or Excel workbook (.xlsx, its first sheet), or raise
    ServiceError saying plainly what is wrong with it."""
    if not data.strip():
        raise ServiceError("file", "The file is empty")
    if len(data) > MAX_BYTES:
        raise ServiceError("file", "The file must be smaller than 5 MB")
    if data.startswith(ZIP_MAGIC):
        return _checked(_xlsx_records(data))
    if data.startswith(OLE_MAGIC):
        raise ServiceError("file", "This is an older Excel file (.xls). Save it as an Excel Workbook (.xlsx) "
                                   "or as CSV UTF-8, and upload that")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("file", "The file must be a CSV saved as UTF-8") from None
    if "\x00" in text:
        raise ServiceError("file", "The file must be a CSV or an Excel Workbook (.xlsx), not another kind of file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        records = [row for row in csv.reader(io.StringIO(text, newline=""), dialect) if any(c.strip() for c in row)]
    except csv.Error as error:
        raise ServiceError("file", f"The file could not be read as CSV: {error}") from None
    return _checked(records)


def _checked(records: list[list[str]]) -> ParsedFile:
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


def _xlsx_records(data: bytes) -> list[list[str]]:
    """The first sheet's rows as text. Workbooks with macros, and anything that is not an
    .xlsx workbook, are refused before openpyxl reads them."""
    unreadable = "The file could not be read as an Excel Workbook (.xlsx). Save it as .xlsx or CSV UTF-8, and upload that"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = [name.lower() for name in archive.namelist()]
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise ServiceError("file", unreadable) from None
    if any(name.endswith("vbaproject.bin") for name in names):
        raise ServiceError("file", "The workbook contains macros, which Holdfast does not open. Save it as an "
                                   "Excel Workbook (.xlsx, without macros) or as CSV UTF-8, and upload that")
    if "xl/workbook.xml" not in names:
        raise ServiceError("file", "This is not an Excel Workbook (.xlsx): it may be a Word, OpenDocument or "
                                   "binary Excel file. Save it as .xlsx or CSV UTF-8, and upload that")
    if unpacked > XLSX_UNPACKED_MAX:
        raise ServiceError("file", "The workbook is too large once unpacked: save it as CSV UTF-8 and upload that")
    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and extensions it ignores
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                records = []
                for row in sheet.iter_rows(max_col=MAX_COLUMNS + 1, max_row=MAX_ROWS + 2, values_only=True):
                    cells = [_cell_text(value) for value in row]
                    while cells and not cells[-1].strip():
                        cells.pop()
                    if cells:
                        records.append(cells)
            finally:
                workbook.close()
    except ServiceError:
        raise
    except Exception:  # a damaged workbook fails in many ways inside openpyxl
        raise ServiceError("file", unreadable) from None
    return records


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as a CSV would hold it: whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def stored_content(data: bytes) -> str:
    """An upload as kept between the matching screens: CSV as its text, a workbook as its bytes."""
    if data.startswith(ZIP_MAGIC):
        return XLSX_PREFIX + base64.b64encode(data).decode("ascii")
    return data.decode("utf-8-sig")


def parse_stored(content: str) -> ParsedFile:
    if content.startswith(XLSX_PREFIX):
        return parse_file(base64.b64decode(content.removeprefix(XLSX_PREFIX)))
    return parse_file(content.encode())


def content_digest(content: str) -> str:
    """SHA-256 of a kept upload: of a workbook's bytes as uploaded; of a CSV's text as
    UTF-8 (so a byte-order mark makes no difference)."""
    if content.startswith(XLSX_PREFIX):
        return hashlib.sha256(base64.b64decode(content.removeprefix(XLSX_PREFIX))).hexdigest()
    return content_sha256(content)


def importable_items(wave: Wave) -> list[Item]:
    return [item for item in wave.instrument.items if item.type != TrustMatrixQuestion.name]


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _refuse_imported_file(session: Session, wave: Wave, digest: str) -> None:
    earlier = session.scalar(
        select(ImportedFile).where(
            ImportedFile.wave_id == wave.id, ImportedFile.content_sha256 == digest, ImportedFile.undone_at.is_(None)
        )
    )
    if earlier is not None:
        when = earlier.record.imported_at.strftime("%-d %B %Y")
        raise ServiceError(
            "file",
            f"This file was already imported into {wave.label} on {when} (as {earlier.record.filename}). "
            "Nothing was imported again. To import a corrected copy, undo that import first.",
        )


def trust_item(wave: Wave) -> Item | None:
    return next((item for item in wave.instrument.items if item.type == TrustMatrixQuestion.name), None)


def trust_targets(session: Session, wave: Wave) -> dict[str, str]:
    """The trust-matrix columns a file may hold, named as exports name them, with what
    each is; none where the wave asks no trust questions."""
    if trust_item(wave) is None:
        return {}
    return {
        f"trust_{sector.id}_{dimension}": f"Trust in {sector.name}: {question}"
        for sector in session.scalars(select(Sector).order_by(Sector.position))
        for dimension, (question, _levels) in TRUST_DIMENSIONS.items()
    }


def remembered(survey) -> dict[str, dict]:
    """The survey's last confirmed matching: {"columns": {heading: target or ""},
    "values": {target: {answer in the file: value}}}."""
    mapping = survey.import_mapping or {}
    return {"columns": dict(mapping.get("columns") or {}), "values": dict(mapping.get("values") or {})}


def start_import(session: Session, wave: Wave, user: User, filename: str, data: bytes) -> ResponseImport:
    if wave.status == WaveStatus.DRAFT:
        raise ServiceError("file", "Open the wave before importing responses into it")
    parsed = parse_file(data)
    content = stored_content(data)
    _refuse_imported_file(session, wave, content_digest(content))
    record = ResponseImport(
        wave_id=wave.id,
        user_id=user.id if user is not None else None,
        filename=(filename or "responses.csv")[:255],
        content=content,
        columns=suggest_columns(parsed.headers, importable_items(wave), trust_targets(session, wave),
                                remembered(wave.survey)["columns"]),
    )
    session.add(record)
    session.commit()
    return record


def _normalised(text: str) -> str:
    """For matching only: case, spaces, underscores and punctuation make no difference."""
    return re.sub(r"[\W_]+", "", text.casefold())


def suggest_columns(headers: list[str], items: list[Item], trust: dict[str, str] | None = None,
                    earlier: dict[str, str] | None = None) -> dict[str, str]:
    """Match columns as they were matched last time for this survey, else named like an
    item's code or text (a KoboToolbox `group/name` heading by its last part), like
    sector/place/organisation, like an export's trust column, or like another tool's
    response id."""
    trust = trust or {}
    valid = {item.code for item in items} | set(COLUMN_FIELDS) | set(trust)
    by_name = {item.code.lower(): item.code for item in items}
    by_name |= {item.text.strip().lower(): item.code for item in items}
    by_name |= {field: field for field in RESPONDENT_FIELDS}
    by_name |= {target: target for target in trust}
    suggested: dict[str, str] = {}
    earlier = {h: t for h, t in (earlier or {}).items() if h in headers and (not t or t in valid)}
    for header, target in earlier.items():
        if target and target not in suggested.values():
            suggested[header] = target
    for header in headers:
        if header in earlier:
            continue
        name = header.strip().lower()
        target = by_name.get(name) or by_name.get(name.rsplit("/", 1)[-1].strip())
        if target and target not in suggested.values():
            suggested[header] = target
    lowered = {header.strip().lower(): header for header in headers if header not in suggested and header not in earlier}
    if SOURCE_ID not in suggested.values():
        source = next((lowered[name] for name in SOURCE_ID_HEADERS if name in lowered), None)
        if source is not None:
            suggested[source] = SOURCE_ID
    return suggested


def column_targets(session: Session, wave: Wave) -> dict[str, str]:
    """Everything a column can be imported as, by target, with its label."""
    return {**COLUMN_FIELDS, **{item.code: f"{item.code}: {item.text}" for item in importable_items(wave)},
            **trust_targets(session, wave)}


def save_columns(session: Session, record: ResponseImport, columns: dict[str, str]) -> None:
    wave = record.wave
    codes = set(column_targets(session, wave))
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
    if not set(targets) - set(COLUMN_FIELDS):
        raise ServiceError("columns", "Match at least one column to a question")
    record.columns = chosen
    record.values = {}
    mapping = remembered(wave.survey)
    mapping["columns"] |= {column: columns.get(column) or "" for column in columns}
    wave.survey.import_mapping = mapping
    session.commit()


@dataclass(frozen=True)
class AnswerSet:
    """Answers in the file that need matching, once for every column sharing the same
    choices (all agreement questions together): the texts found, the choices (with no
    answer, and "Don't know" where offered) and what is suggested for each text."""

    columns: list[tuple[str, str]]  # column in the file, target
    texts: list[str]
    choices: list[tuple[Any, str]]
    suggested: dict[str, Any]

    @property
    def respondent_field(self) -> str | None:
        target = self.columns[0][1]
        return target if target in RESPONDENT_FIELDS else None

    def allowed(self) -> dict[str, Any]:
        """Form value → value, for reading what was posted."""
        return {str(value): value for value, _ in self.choices}


def answer_sets(session: Session, record: ResponseImport, places: list[Place]) -> list[AnswerSet]:
    parsed = parse_stored(record.content)
    index = {header: i for i, header in enumerate(parsed.headers)}
    wave = record.wave
    items = {item.code: item for item in importable_items(wave)}
    earlier = remembered(wave.survey)["values"]
    groups: dict[str, dict[str, Any]] = {}
    for column, target in record.columns.items():
        if target == SOURCE_ID:
            continue
        choices = _choices(session, wave, target, items, places)
        if choices is None:
            continue
        cells = [row[index[column]] for row in parsed.rows]
        if target in RESPONDENT_FIELDS:  # a sector, place or organisation: the whole cell
            texts = {cell for cell in cells if cell}
        else:  # an answer: each choice named in the cell that is not already a number
            texts = {part for cell in cells for part in _split(cell, target, items)
                     if part and not _is_number(part.replace(",", "") if _is(items, target, "number") else part)}
        if not texts:
            continue
        key = target if target in RESPONDENT_FIELDS else json.dumps(choices)
        group = groups.setdefault(key, {"columns": [], "texts": set(), "choices": choices})
        group["columns"].append((column, target))
        group["texts"] |= texts
    sets = []
    for group in groups.values():
        texts = sorted(group["texts"], key=lambda text: (text.casefold(), text))
        saved: dict[str, Any] = {}
        for column, target in reversed(group["columns"]):  # this import's own matching before last time's
            saved |= earlier.get(target) or {}
        for column, target in reversed(group["columns"]):
            saved |= (record.values or {}).get(column) or {}
        suggested = {text: suggest_value(text, group["choices"], saved) for text in texts}
        sets.append(AnswerSet(group["columns"], texts, group["choices"], suggested))
    return sets


def suggest_value(text: str, choices: list[tuple[Any, str]], saved: dict[str, Any] | None = None) -> Any:
    """What an answer in the file most likely means: as matched before, else the choice
    whose label (or code, like `strongly_agree`) it is, ignoring case, spaces and
    punctuation, or a choice's number with its label ("5 - Strongly agree"); else
    "Don't know" or no answer for the usual ways of saying so; else None."""
    values = {value for value, _ in choices}
    if saved and text in saved and saved[text] in values:
        return saved[text]
    by_label = {_normalised(label): value for value, label in choices}
    by_label |= {_normalised(str(value)): value for value, _ in choices if _normalised(str(value)) not in by_label}
    wanted = _normalised(text)
    if wanted in by_label and wanted:
        return by_label[wanted]
    numbered = re.fullmatch(r"\s*\(?(\d+)\)?\s*[-.:=)]?\s*(.*?)\s*|\s*(.*?)\s*\((\d+)\)\s*", text)
    if numbered:
        number, label = (numbered[1], numbered[2]) if numbered[1] else (numbered[4], numbered[3])
        value = by_label.get(_normalised(label))
        if value is not None and str(value) == number:
            return value
    if wanted in DONT_KNOW_TEXTS and DONT_KNOW in values:
        return DONT_KNOW
    if (wanted in NO_ANSWER_TEXTS or wanted in DONT_KNOW_TEXTS) and NO_ANSWER in values:
        return NO_ANSWER
    return None


def _trust_levels(target: str) -> list[tuple[Any, str]]:
    _levels = TRUST_DIMENSIONS[TRUST_COLUMN.match(target)[2]][1]
    return [(value, label) for value, label in enumerate(_levels, start=1)]


def _choices(session, wave: Wave, target, items, places: list[Place]) -> list[tuple[Any, str]] | None:
    if target == "sector":
        return [(s.id, s.name) for s in session.scalars(select(Sector).order_by(Sector.position))]
    if target == "place":
        return [(p.id, p.name) for p in places]
    if target == "organisation":
        place_ids = [p.id for p in places]
        organisations = session.scalars(select(Organisation).where(Organisation.place_id.in_(place_ids)))
        return [(o.id, o.name) for o in organisations] + [(NO_ANSWER, "None given")]
    if TRUST_COLUMN.match(target):
        return [*_trust_levels(target), (NO_ANSWER, NO_ANSWER_LABEL)]
    item = items[target]
    if item.type in CHOICE_TYPES:
        extra = [(DONT_KNOW, DONT_KNOW_LABEL)] if item.type == LikertQuestion.name and offers_dont_know(wave) else []
        return [(c["value"], c["label"]) for c in item.options["choices"]] + extra + [(NO_ANSWER, NO_ANSWER_LABEL)]
    if item.type == "number":  # words in a number column ("N/A") can only mean no answer
        return [(NO_ANSWER, NO_ANSWER_LABEL)]
    return None


def has_trust_columns(record: ResponseImport) -> bool:
    return any(TRUST_COLUMN.match(target) for target in record.columns.values())


def respondent_names(session: Session, places: list[Place]) -> dict[str, dict[int, str]]:
    """Sector, place and organisation names by id, for showing a preview's rows."""
    return {field: {value: label for value, label in _choices(session, None, field, {}, places) if value != NO_ANSWER}
            for field in RESPONDENT_FIELDS}


def save_values(session: Session, record: ResponseImport, values: dict[str, dict[str, Any]]) -> None:
    """Keep the matching the user confirmed, for this import and, by target, for the
    survey's next file."""
    record.values = values
    mapping = remembered(record.wave.survey)
    for column, chosen in values.items():
        target = record.columns.get(column)
        if target and target != SOURCE_ID:
            mapping["values"][target] = {**(mapping["values"].get(target) or {}), **chosen}
    record.wave.survey.import_mapping = mapping
    session.commit()


def _is(items: dict[str, Item], target: str, kind: str) -> bool:
    return target in items and items[target].type == kind


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
    rows: list[tuple[int, Respondent, dict[str, Any]]]  # line in the file, who, answers: to import
    errors: list[tuple[int, str]]
    # Rows already in the wave, left out: line in the file, why it is taken to be there.
    already: list[tuple[int, str]] = field(default_factory=list)
    # Line in the file → (source key or None, answers key), for the ledger.
    keys: dict[int, tuple[str | None, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _source_key(source_id: str) -> str:
    return "id:" + hashlib.sha256(source_id.encode()).hexdigest()


def _answers_key(respondent: Respondent, answers: dict[str, Any], copy: int) -> str:
    """Who answered what, and which copy of exactly that in its file: two identical rows
    in one file are two responses; the same row in a later file is the first again."""
    given = {code: value for code, value in answers.items() if value not in (None, "", [], {})}
    text = json.dumps([respondent.sector_id, respondent.place_id, respondent.organisation_id, given],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{hashlib.sha256(text.encode()).hexdigest()}#{copy}"


def preview(session: Session, record: ResponseImport, places: list[Place],
            replacing: ImportedFile | None = None) -> ImportPreview:
    """Convert every row, collecting every problem; nothing is written. Rows of the
    import being replaced (`replacing`) are not taken to be there: they go as these come."""
    parsed = parse_stored(record.content)
    index = {header: i for i, header in enumerate(parsed.headers)}
    wave = record.wave
    items = {item.code: item for item in importable_items(wave)}
    by_target = {target: column for column, target in record.columns.items()}
    values = record.values or {}
    single_place = wave.survey.places[0].id if len(wave.survey.places) == 1 else None
    lookups = {
        field: {label.casefold(): value for value, label in _choices(session, wave, field, items, places)
                if value != NO_ANSWER}
        for field in RESPONDENT_FIELDS
    }
    trust_code = getattr(trust_item(wave), "code", None)
    trust_columns = [(column, TRUST_COLUMN.match(target)) for column, target in record.columns.items()
                     if TRUST_COLUMN.match(target)]
    source_column = by_target.get(SOURCE_ID)
    first_line_of: dict[str, int] = {}
    converted, errors = [], []
    for line, row in enumerate(parsed.rows, start=2):
        problems: list[str] = []
        if source_column is not None:
            source_id = row[index[source_column]]
            if not source_id:
                problems.append(f"{source_column} is empty: every row needs its response ID")
            elif source_id in first_line_of:
                problems.append(f"{source_column} ‘{source_id}’ is also on row {first_line_of[source_id]}")
            else:
                first_line_of[source_id] = line

        def respondent_field(field: str):
            column = by_target.get(field)
            if column is None:
                return None
            text = row[index[column]]
            if not text:
                return None
            mapped = values.get(column, {}).get(text)
            if mapped == NO_ANSWER and field == "organisation":
                return None
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
        if trust_columns and trust_code is not None:
            answers[trust_code] = _convert_trust(row, index, trust_columns, values, sector_id, problems)
        if problems:
            message = "; ".join(problems)
            errors.append((line, message[0].upper() + message[1:]))
        else:
            converted.append((line, Respondent(sector_id, place_id, organisation_id, None, "import"), answers))
    ignored = replacing.import_id if replacing is not None else None
    return _leave_out_rows_already_there(session, wave, converted, errors, source_column, parsed, index, ignored)


def _leave_out_rows_already_there(session, wave, converted, errors, source_column, parsed, index,
                                  ignored: int | None = None) -> ImportPreview:
    copies: Counter = Counter()
    keys: dict[int, tuple[str | None, str]] = {}
    for line, respondent, answers in converted:
        answers_key = _answers_key(respondent, answers, 0)
        copies[answers_key] += 1
        source = parsed.rows[line - 2][index[source_column]] if source_column is not None else None
        keys[line] = (_source_key(source) if source else None, answers_key[:-1] + str(copies[answers_key]))
    known_sources, known_answers = set(), set()
    if keys:
        known = session.execute(
            select(ImportedRow.source_key, ImportedRow.answers_key).where(
                ImportedRow.wave_id == wave.id, ImportedRow.import_id != (ignored if ignored is not None else -1))
        ).all()
        known_sources = {source for source, _ in known if source is not None}
        known_answers = {answers for _, answers in known}
    rows, already = [], []
    for line, respondent, answers in converted:
        source_key, answers_key = keys[line]
        if source_column is not None:
            if source_key in known_sources:
                already.append((line, f"{source_column} ‘{parsed.rows[line - 2][index[source_column]]}’ "
                                      f"is already in {wave.label}"))
                continue
        elif answers_key in known_answers:
            already.append((line, f"The same answers from the same sector and place are already in {wave.label}"))
            continue
        rows.append((line, respondent, answers))
    return ImportPreview(rows, errors, already, {line: keys[line] for line, _, _ in rows})


def _convert_trust(row, index, trust_columns, values, own_sector_id, problems: list[str]) -> dict:
    """A row's trust-matrix cells (1–4, or words matched to them) as the trust item's value."""
    ratings: dict[str, dict[str, int]] = {}
    for column, match in trust_columns:
        cell = row[index[column]]
        if not cell:
            continue
        mapped = values.get(column, {}).get(cell)
        if mapped == NO_ANSWER:
            continue
        number = mapped if mapped is not None else (float(cell) if _is_number(cell) else None)
        if number is None or float(number) not in (1.0, 2.0, 3.0, 4.0):
            problems.append(f"{column}: ‘{cell}’ is not one of the choices (1 to 4)")
            continue
        if own_sector_id is not None and int(match[1]) == own_sector_id:
            problems.append(f"{column}: a respondent does not rate their own sector")
            continue
        ratings.setdefault(match[1], {})[match[2]] = int(number)
    return ratings


def _convert(item: Item, cell: str, labels: dict[str, Any]) -> tuple[Any, str | None]:
    """One cell to a draft value, checked against the item (blank is allowed: not answered).

    Numbers are taken as they are; words only as the coordinator confirmed them on the
    matching screen (never silently, even where one is a choice's own label)."""
    kind = question_type(item.type)
    if not cell:
        return None, None
    if item.type == "text":
        value = cell
    elif item.type == "number":
        if labels.get(cell) == NO_ANSWER:
            return None, None
        if not _is_number(cell.replace(",", "")):
            return None, f"‘{cell}’ is not a number"
        value = float(cell.replace(",", ""))
    elif item.type == "multi":
        value = []
        for part in _split(cell, item.code, {item.code: item}):
            if labels.get(part) == NO_ANSWER:
                continue
            number = labels.get(part) if not _is_number(part) else float(part)
            if not isinstance(number, (int, float)) or float(number) != int(float(number)):
                return None, f"‘{part}’ is not one of the choices"
            value.append(int(float(number)))
        value = sorted(set(value)) or None
    else:
        mapped = labels.get(cell)
        if mapped == NO_ANSWER:
            return None, None
        if mapped == DONT_KNOW and item.type == LikertQuestion.name:
            return DONT_KNOW, None
        number = mapped if not _is_number(cell) else float(cell)
        if not isinstance(number, (int, float)) or float(number) != int(float(number)):
            return None, f"‘{cell}’ is not one of the choices"
        value = int(float(number))
    problem = kind.error(item, value)
    if problem:
        return None, f"‘{cell}’: {problem[0].lower() + problem[1:]}"
    return value, None


def _lock_wave(session: Session, wave: Wave) -> None:
    """One import or undo at a time per wave: its checks then see every row written
    before. PostgreSQL locks the wave's row; SQLite's writer queue already runs one
    writing request at a time."""
    start_writing(session)
    session.execute(select(Wave.id).where(Wave.id == wave.id).with_for_update())


def commit_import(session: Session, record: ResponseImport, places: list[Place], *, actor: User | None) -> int:
    """Write every row not already in the wave, in one transaction, or nothing. Running
    it twice imports once."""
    wave = record.wave
    _lock_wave(session, wave)
    session.refresh(record)
    if record.imported_at is not None:
        return record.imported_count or 0
    result = _write_import(session, record, places)
    left_out = f"; {audit.count_of(len(result.already), 'row')} already there left out" if result.already else ""
    audit.record(
        session, actor, AuditAction.RESPONSES_IMPORTED, wave=wave,
        detail=f"{audit.count_of_responses(len(result.rows), wave.survey.k_internal)} imported into {wave.label}"
        f" from {record.filename}{left_out}",
        data={"count": len(result.rows), "filename": record.filename, "import_id": record.id},
    )
    _commit_or_refuse(session, wave)
    return len(result.rows)


def _write_import(session: Session, record: ResponseImport, places: list[Place]) -> ImportPreview:
    """Check the whole file and add its rows, the ledger and the import's record to the
    session (no commit), or raise ServiceError having added nothing."""
    wave = record.wave
    digest = content_digest(record.content)
    _refuse_imported_file(session, wave, digest)
    result = preview(session, record, places)
    if not result.ok:
        problems = "1 row has a problem" if len(result.errors) == 1 else f"{len(result.errors)} rows have problems"
        raise ServiceError("file", f"{problems}: nothing was imported")
    if not result.rows:
        raise ServiceError("file", f"Every row of this file is already in {wave.label}: nothing was imported")
    now = utcnow()
    ledger = []
    for line, respondent, answers in result.rows:
        response_id = insert_response(session, wave, respondent, answers, f"import-{record.id}-{line}", now)
        source_key, answers_key = result.keys[line]
        ledger.append({"wave_id": wave.id, "import_id": record.id, "response_id": response_id,
                       "source_key": source_key, "answers_key": answers_key})
    session.execute(insert(ImportedRow), ledger)
    session.add(ImportedFile(import_id=record.id, wave_id=wave.id, content_sha256=digest, skipped=len(result.already)))
    record.imported_at, record.imported_count = now, len(result.rows)
    return result


def _commit_or_refuse(session: Session, wave: Wave) -> None:
    try:
        session.commit()
    except IntegrityError:
        # The same rows written by another import in the meantime (the ledger's unique
        # keys): nothing of this one is kept.
        session.rollback()
        raise ServiceError(
            "file", f"Some of these rows were imported into {wave.label} a moment ago: nothing was imported. "
            "Check the preview again."
        ) from None


def imports_of(session: Session, wave: Wave) -> list[ImportedFile]:
    """The imports carried out into this wave, newest first, undone ones included."""
    return list(session.scalars(
        select(ImportedFile).where(ImportedFile.wave_id == wave.id).order_by(ImportedFile.id.desc())
    ))


def imported_file(session: Session, import_id: int) -> ImportedFile | None:
    return session.scalar(select(ImportedFile).where(ImportedFile.import_id == import_id))


def _responses_of(record: ResponseImport):
    """An import's responses, by the idempotency keys commit_import gives them."""
    return select(Response.id).where(
        Response.wave_id == record.wave_id, Response.idempotency_key.like(f"import-{record.id}-%")
    )


def undo_import(session: Session, done: ImportedFile, *, actor: User | None) -> int:
    """Remove every response of an import, together, in one transaction (logged), and
    say where they were, for the published counts; return how many were removed. The
    same file can then be imported again."""
    record = done.record
    wave = record.wave
    _lock_wave(session, wave)
    session.refresh(done)
    total = _remove_import(session, done, actor)
    audit.record(
        session, actor, AuditAction.IMPORT_UNDONE, wave=wave,
        detail=f"Import of {record.filename} into {wave.label} undone: "
        f"{audit.count_of_responses(total, wave.survey.k_internal).lower()} removed",
        data={"count": total, "filename": record.filename, "import_id": record.id},
    )
    session.commit()
    return total


def _remove_import(session: Session, done: ImportedFile, actor: User | None) -> int:
    """Delete an import's responses and ledger rows and mark it undone (no commit)."""
    record = done.record
    if done.undone_at is not None:
        raise ServiceError("import", f"This import was already undone on {done.undone_at.strftime('%-d %B %Y')}")
    ids = _responses_of(record)
    removed = session.execute(
        select(Response.place_id, Response.sector_id, func.count())
        .where(Response.id.in_(ids)).group_by(Response.place_id, Response.sector_id)
        .order_by(Response.place_id, Response.sector_id)
    ).all()
    total = sum(n for _, _, n in removed)
    # Answers and ratings first, by statement: the same on every database, whatever its
    # foreign-key cascades, and without loading thousands of rows.
    session.execute(delete(Answer).where(Answer.response_id.in_(ids)).execution_options(synchronize_session=False))
    session.execute(
        delete(TrustRating).where(TrustRating.response_id.in_(ids)).execution_options(synchronize_session=False))
    session.execute(delete(ImportedRow).where(ImportedRow.import_id == record.id).execution_options(
        synchronize_session=False))
    session.execute(delete(Response).where(Response.id.in_(ids.scalar_subquery()))
                    .execution_options(synchronize_session=False))
    done.undone_at = utcnow()
    done.undone_by_id = actor.id if actor is not None else None
    done.removed = [[place_id, sector_id, n] for place_id, sector_id, n in removed]
    return total


def replace_import(session: Session, done: ImportedFile, record: ResponseImport, places: list[Place], *,
                   actor: User | None) -> tuple[int, int]:
    """Replace an import by a corrected file in one transaction (logged): the earlier
    import's responses are removed and the new file's stored, or, if the new file has
    any problem, nothing changes. Returns (removed, imported)."""
    wave = record.wave
    if done.wave_id != record.wave_id:
        raise ServiceError("import", "A file can only replace an import into the same wave")
    _lock_wave(session, wave)
    session.refresh(done)
    session.refresh(record)
    if record.imported_at is not None:
        raise ServiceError("import", f"{record.filename} was already imported")
    old = done.record
    try:
        removed = _remove_import(session, done, actor)
        done.replaced_by_id = record.id
        session.flush()
        result = _write_import(session, record, places)
    except ServiceError:
        session.rollback()
        raise
    k = wave.survey.k_internal
    audit.record(
        session, actor, AuditAction.IMPORT_REPLACED, wave=wave,
        detail=f"Import of {old.filename} into {wave.label} replaced by {record.filename}: "
        f"{audit.count_of_responses(removed, k).lower()} removed, "
        f"{audit.count_of_responses(len(result.rows), k).lower()} imported",
        data={"removed": removed, "count": len(result.rows), "filename": record.filename, "import_id": record.id,
              "replaced_filename": old.filename, "replaced_import_id": old.id},
    )
    _commit_or_refuse(session, wave)
    return removed, len(result.rows)


def get_import(session: Session, import_id: int) -> ResponseImport | None:
    return session.get(ResponseImport, import_id)
