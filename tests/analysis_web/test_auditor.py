"""The auditor: everything the output layer publishes (analysis.publication records it)
while an evaluator opens every page, CSV and chart about a survey with deliberately
awkward sector sizes, in every view (every pair of waves, every place and all places,
every construct), turned into the equations a determined reader could write, and for
each withheld group the bounds linear programming puts on its count and its mean. The
CSVs are also read as a reader would, to check the recording misses nothing.

An evaluator sees every view a coordinator can (coordinators see a subset), so auditing
the evaluator audits both. Each published figure is recorded as a linear form over
atomic cells (wave × place × sector × construct: count and sum): counts exactly, means
as sums within their rounding. The sector-mix check, the one nonlinear figure, is
checked to leave out every withheld sector. Single questions add their counts (their
own cells; they publish no means). Trust blocks are recorded over their own atomic
cells (wave × place × rater sector × target sector: raters and the sum of their means),
briefing previews at the public threshold join the Results pages' equations, and a
workshop's prompts and tiles are checked to draw only on cells published at k = 10.
What is not recorded, and why, is in docs/disclosure.md (standard errors and intervals,
which also involve sums of squares)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import numpy as np
import pytest
from scipy.optimize import linprog
from sqlalchemy import select

from analysis import publication
from analysis.disclosure import ANY_ANSWER
from analysis.network import TRUST_SCALE_DIMENSIONS
from analysis.scores import construct_scores
from core.models import Organisation, Place, Role, Sector
from surveys import importing
from surveys import service as survey_service
from surveys.models import AnonymityMode, Construct, Survey, WaveRole
from tests.surveys.test_import_integrity import csv_bytes

K = 5
# Every respondent here answers every construct, so all constructs share one set of
# counts; two of them (of eleven) are audited cell by cell to keep the test quick.
AUDITED = ("trust", "momentum")
# Sector sizes per place and wave, from the pen-test: Faith 3 everywhere; Education,
# Business and Funder small in some waves; Local authority large.
SIZES = {
    "North": {1: {"Faith": 3, "Education": 3, "Business": 20, "Local authority": 30, "Funder": 20},
              2: {"Faith": 3, "Education": 20, "Business": 20, "Local authority": 30, "Funder": 2},
              3: {"Faith": 3, "Education": 15, "Business": 8, "Local authority": 30, "Funder": 6}},
    "South": {1: {"Faith": 6, "Education": 12, "Business": 4, "Local authority": 25, "Funder": 9},
              2: {"Faith": 2, "Education": 9, "Business": 12, "Local authority": 25, "Funder": 7},
              3: {"Faith": 7, "Education": 3, "Business": 11, "Local authority": 25, "Funder": 12}},
}

# Groups whose responses come from two organisations: large ones withheld for the
# organisation rule, whose means must stay as uncertain as a small group's.
TWO_ORGANISATIONS = {("North", "Local authority"), ("South", "Business")}


def awkward_survey(session) -> dict:
    """The awkward survey, built once per worker and backend (see the dataset marker):
    ids and the true cells, read into each test's session by the `awkward` fixture."""
    rng = np.random.default_rng(9)
    trust_rng = np.random.default_rng(10)  # its own stream: the construct answers stay as they were
    places = {name: Place(name=f"{name} {next(_names)}", description="") for name in SIZES}
    sector_names = list(next(iter(SIZES.values()))[1])
    sectors = {name: Sector(name=f"{name} {next(_names)}", position=100) for name in sector_names}
    organisations = {(p, s): [Organisation(name=f"Organisation {next(_names)}", place=places[p], sector=sectors[s])
                              for _ in range(3)]
                     for p in places for s in sectors}
    session.add_all([*places.values(), *sectors.values(), *itertools.chain(*organisations.values())])
    session.flush()
    survey = survey_service.create_survey(session, f"Survey {next(_names)}", "The Partnership", "",
                                          "coordination-and-trust", [p.id for p in places.values()],
                                          AnonymityMode.ANONYMOUS)
    for number in (1, 2, 3):
        wave = survey.waves[0] if number == 1 else survey_service.clone_wave(
            session, survey, f"Wave {number}", WaveRole.FOLLOW_UP)
        survey_service.open_wave(session, wave, actor=None)
        for p, by_sector in SIZES.items():
            for s, n in by_sector[number].items():
                for i in range(n):
                    answers = {item.code: int(rng.integers(1, 6)) for item in wave.instrument.items
                               if item.type == "likert"}
                    answers.update({item.code: {str(target.id): {d: int(trust_rng.integers(1, 5)) for d in
                                                                 TRUST_SCALE_DIMENSIONS}
                                                for target in sectors.values()}
                                    for item in wave.instrument.items if item.type == "trust_matrix"})
                    organisation = organisations[(p, s)][i % (2 if (p, s) in TWO_ORGANISATIONS else 3)]
                    respondent = survey_service.Respondent(sectors[s].id, places[p].id, organisation.id)
                    survey_service.insert_response(session, wave, respondent, answers,
                                                   f"audit-{wave.id}-{p}-{s}-{i}")
        wave.grace_minutes = 0  # no grace period for late sends: results show at once
        survey_service.close_wave(session, wave, actor=None)
    session.flush()
    return {"survey_id": survey.id, "truth": true_cells(session, survey),
            "place_ids": {name: place.id for name, place in places.items()},
            "sectors": {name: sector.name for name, sector in sectors.items()}, "trust": true_trust(session, survey)}


# The full auditor: minutes of linear programming, kept because it guards the promise that
# no withheld group can be worked out (docs/disclosure.md).
pytestmark = [pytest.mark.dataset.with_args(awkward_survey), pytest.mark.slow]


@pytest.fixture
def awkward(db_session, dataset):
    return Awkward(db_session.get(Survey, dataset["survey_id"]), dataset["truth"],
                   {name: db_session.get(Place, place_id) for name, place_id in dataset["place_ids"].items()},
                   dataset["sectors"], dataset["trust"])


@dataclass(frozen=True)
class Awkward:
    survey: object
    truth: dict
    places: dict  # "North" → Place
    sectors: dict  # "Faith" → the sector's name in this test's database
    trust: dict  # (wave label, place, rater sector, target sector) → (raters, sum of their means)


def true_cells(db_session, survey) -> dict:
    """(wave label, place, sector, construct or question) → (count, sum of scores)."""
    frame = survey_service.responses_frame(db_session, survey.waves)
    codebook = frame.codebook[frame.codebook["construct"].notna() & (frame.codebook["type"] == "likert")]
    responses = frame.responses
    scores = construct_scores(responses, codebook)
    keys = [responses["wave"], responses["place"], responses["sector"]]
    truth = {}
    for construct in scores.columns:
        grouped = scores[construct].groupby(keys).agg(["count", "sum"])
        for (wave, place, sector), row in grouped.iterrows():
            truth[(wave, place, sector, construct)] = (int(row["count"]), float(row["sum"]))
    for item in codebook["item"]:  # each question's own count: it publishes no means
        counts = responses[item].notna().groupby(keys).sum()
        truth.update({(w, p, s, item): (int(n), 0.0) for (w, p, s), n in counts.items()})
    return truth


def true_trust(db_session, survey) -> dict:
    """The atomic trust cells: each rater's mean over the trust dimensions for a target
    sector (what a trust block averages), counted and summed per wave × place × rater
    sector × target sector."""
    frame = survey_service.responses_frame(db_session, survey.waves)
    trust = frame.trust[frame.trust["dimension"].isin(TRUST_SCALE_DIMENSIONS)].copy()
    trust["value"] = trust["value"].astype(float)
    trust = trust.merge(frame.responses[["response_id", "place"]], on="response_id")
    per_rater = trust.groupby(["response_id", "wave", "place", "sector", "target_sector"])["value"].mean()
    grouped = per_rater.groupby(level=["wave", "place", "sector", "target_sector"]).agg(["count", "sum"])
    return {key: (int(row["count"]), float(row["sum"])) for key, row in grouped.iterrows()}


_names = itertools.count(1)



def views(survey):
    """Every view an evaluator can open: each pair of waves, for all places and for each
    place, as (reference wave, current wave, its query string, the places it covers)."""
    names = [place.name for place in survey.places]
    for reference, current in itertools.combinations(survey.waves, 2):
        for place in [None, *survey.places]:
            query = {"reference": reference.id, "current": current.id, "baseline": "",
                     "place": place.id if place else ""}
            yield reference, current, query, [place.name] if place else names


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


COMPARED = "withheld in a comparison (for this wave or the other)"
FEWER = re.compile(r"^fewer than (\d+) responses$")  # the words say the group has 1 to k − 1


class Record:
    """The equations: each is (cells, what, low, high) with what "n" or "sum"."""

    def __init__(self):
        self.equations: list[tuple[frozenset, str, float, float]] = []
        self.withheld: dict[frozenset, str] = {}  # groups of atomic cells some view withheld, with its words
        self.published: set[frozenset] = set()  # groups some view shows a count for

    def figure(self, cells, n, mean):
        cells = frozenset(cells)
        if _number(n):
            self.published.add(cells)
            self.equations.append((cells, "n", float(n), float(n)))
            if _number(mean):
                half = 0.00005 * float(n) + 1e-9  # the CSV rounds means to 4 places
                self.equations.append((cells, "sum", float(mean) * float(n) - half, float(mean) * float(n) + half))

    def hidden(self, cells, reason, per_wave=True):
        """A withheld group (one cell, or several summed): a target for the bounds, and,
        where its words say "fewer than k responses" of this wave, a constraint a reader
        can use (a sector row of a comparison gives one reason for both waves)."""
        cells = frozenset(cells)
        if per_wave:
            if self.withheld.get(cells, COMPARED) == COMPARED:
                self.withheld[cells] = reason
        else:
            self.withheld.setdefault(cells, COMPARED)
        if per_wave and (small := FEWER.match(reason)):
            self.equations.append((cells, "n", 1.0, float(small[1]) - 1.0))


def _number(value) -> bool:
    try:
        float(value)
        return value != ""
    except (TypeError, ValueError):
        return False


def collect(client, survey, sectors: list[str], version: str = "") -> tuple[Record, set[str]]:
    """Everything the output layer publishes (analysis.publication records it) while an
    evaluator opens every page and CSV of every view and every wave's page, as a Record
    of the audited constructs and their questions. `version` marks the wave labels (e.g.
    "#after") so two versions of the same data keep their own cells.

    Checked on the way: every figure the CSVs show, read as a reader would, is in the
    recording (so the recording misses nothing), and every derived figure (the
    sector-mix adjustment, a panel's change, a change in trust) depends only on groups
    some view publishes."""
    with publication.recording() as ledger:
        from_csvs, audited_items = collect_csvs(client, survey, sectors, version)
        for path in pages(client, survey):
            assert client.get(path).status_code == 200, path
    measures = {*AUDITED, *audited_items}
    record = ledger_record(ledger, sectors, version, measures)
    for cells, what, low, high in from_csvs.equations:
        match = [(lo, hi) for c, w, lo, hi in record.equations if c == cells and w == what]
        assert any(lo >= low - 1e-6 and hi <= high + 1e-6 for lo, hi in match), (sorted(cells)[:2], what, low, high)
    assert from_csvs.published <= record.published
    assert set(from_csvs.withheld) <= set(record.withheld)
    assert_derived_from_published(ledger)
    return record, audited_items


def pages(client, survey) -> list[str]:
    """Every Results page of every view (the CSVs hold the same rows), each wave's page
    and the Results charts."""
    base = f"/analysis/surveys/{survey.id}"
    paths = [f"/waves/{wave.id}" for wave in survey.waves]
    for *_, query, _ in views(survey):
        suffix = "?" + urlencode(query)
        sectors = {r["group"] for r in read_csv(client.get(f"{base}/constructs/{AUDITED[0]}/sectors.csv{suffix}"))}
        paths += [f"{base}{suffix}", f"{base}/change.svg{suffix}", f"{base}/trust{suffix}"]
        paths += [f"{base}/constructs/{c}{suffix}" for c in AUDITED]
        paths += [f"{base}/constructs/{c}/trend.svg{suffix}" for c in AUDITED]
        paths += [f"{base}/sectors/{sector}{suffix}" for sector in sorted(sectors)]
    return paths


def ledger_record(ledger: publication.Ledger, sectors: list[str], version: str, measures: set[str]) -> Record:
    """The recorded figures of these measures as equations. A wave page's counts of
    responses ("(any answer)") count each audited construct too: every respondent here
    answers every construct (check() verifies each equation against the data)."""
    record = Record()
    for figure in ledger.figures:
        group = figure.cells
        assert figure.count is not None or figure.mean is None, figure  # a mean beside a withheld count gives it away
        targets = AUDITED if group.measure == ANY_ANSWER else [group.measure]
        for measure in targets:
            if measure not in measures:
                continue
            cells = [(group.wave + version, p, s, measure) for p in group.places for s in (group.sectors or sectors)]
            if figure.count is not None:  # exact: the recording has the unrounded mean
                record.figure(cells, figure.count, "")
                if figure.mean is not None:
                    total = figure.mean * figure.count
                    record.equations.append((frozenset(cells), "sum", total - 1e-7, total + 1e-7))
            if figure.withheld:
                record.hidden(cells, figure.withheld, per_wave=not figure.either_wave)
    return record


def assert_derived_from_published(ledger: publication.Ledger) -> None:
    """No derived figure depends on a group that no view publishes with its count."""
    published = {figure.cells for figure in ledger.figures if figure.count is not None}
    assert ledger.derived, "the survey should publish derived figures"
    for derived in ledger.derived:
        assert derived.depends_on, derived.what
        for cells in derived.depends_on:
            assert cells in published, (derived.what, cells)


def collect_csvs(client, survey, sectors: list[str], version: str = "") -> tuple[Record, set[str]]:
    """Every CSV an evaluator can open for every view, as a Record: the reader's side,
    against which the recording is checked."""
    record = Record()
    audited_items: set[str] = set()
    base = f"/analysis/surveys/{survey.id}"
    for reference, current, query, here in views(survey):
        for row in read_csv(client.get(f"{base}/constructs.csv", query_string=query)):
            construct = row["construct"]
            if construct not in AUDITED:
                continue
            for wave, n, mean in ((reference, row["reference_n"], row["reference_mean"]),
                                  (current, row["current_n"], row["current_mean"])):
                cells = [(wave.label + version, p, s, construct) for p in here for s in sectors]
                record.figure(cells, n, mean)
                if not _number(n):
                    record.hidden(cells, n)
            # The one nonlinear figure never draws on a withheld sector.
            left_out = set(filter(None, row["adjusted.left_out"].split("; ")))
            sector_rows = read_csv(client.get(f"{base}/constructs/{construct}/sectors.csv", query_string=query))
            withheld_sectors = {r["group"] for r in sector_rows if r["withheld"]}
            if row["adjusted.difference"]:
                assert withheld_sectors <= left_out, (construct, withheld_sectors, left_out)
            for r in sector_rows:
                for wave, n, mean in ((reference, r["reference_n"], r["reference_mean"]),
                                      (current, r["current_n"], r["current_mean"])):
                    cells = [(wave.label + version, p, r["group"], construct) for p in here]
                    record.figure(cells, n, mean)
                    if r["withheld"]:
                        record.hidden(cells, r["withheld"], per_wave=False)
            # Single questions: a count per question and wave (their own cells), no means.
            for r in read_csv(client.get(f"{base}/constructs/{construct}/items.csv", query_string=query)):
                for wave, n in ((reference, r["reference_n"]), (current, r["current_n"])):
                    cells = [(wave.label + version, p, s, r["item"]) for p in here for s in sectors]
                    record.figure(cells, n, "")
                    if not _number(n):
                        record.hidden(cells, n)
                    audited_items.add(r["item"])
            for r in read_csv(client.get(f"{base}/constructs/{construct}/trend.csv", query_string=query)):
                cells = [(r["wave"] + version, p, s, construct) for p in here for s in sectors]
                record.figure(cells, r["n"], r["mean"])
                if r["withheld"]:
                    record.hidden(cells, r["withheld"])
    assert record.withheld, "the survey should have withheld groups to audit"
    return record, audited_items


def check(record: Record, truth: dict, audited_items: set[str], places: list[str], sectors: list[str]) -> list[str]:
    """The recording matches the data, then the LP bounds for every group no view shows."""
    for cells, what, low, high in record.equations:
        value = sum(truth.get(cell, (0, 0.0))[0 if what == "n" else 1] for cell in cells)
        assert low - 1e-6 <= value <= high + 1e-6, (sorted(cells)[:3], what, low, high, value)
    problems = []
    for wave in {cell[0] for group in record.withheld for cell in group}:
        for construct in [*AUDITED, *sorted(audited_items)]:
            # A group withheld in one comparison only because the other wave withholds it
            # is shown in other views: the groups to protect are those no view shows.
            targets = [group for group in record.withheld if group not in record.published
                       and next(iter(group))[0] == wave and next(iter(group))[3] == construct
                       and sum(truth.get(cell, (0, 0))[0] for cell in group) > 0]
            # A small group keeps its mean uncertain whatever its words say ("withheld so a
            # smaller group cannot be worked out" where "fewer than 5" would pin its count).
            small = {group for group in targets if sum(truth.get(cell, (0, 0))[0] for cell in group) < K}
            if targets:
                problems += _bounds(record, wave, construct, places, sectors, targets, small)
    return problems


def test_no_withheld_group_can_be_worked_out_from_every_view(client, awkward, make_user, login, db_session):
    survey = awkward.survey
    login(make_user(Role.EVALUATOR))
    places, sectors = [place.name for place in survey.places], sorted(awkward.sectors.values())
    before, items = collect(client, survey, sectors)
    assert not (problems := check(before, awkward.truth, items, places, sectors)), "\n".join(problems)

    # Late answers into the closed Wave 2: two in North's Funder group (a change of fewer
    # than k), and an admin's import of twelve in South's Education group. Every view
    # again, and the two versions side by side.
    second = survey.waves[1]
    late = second.closes_at + timedelta(days=3)
    answers = {item.code: 4 for item in second.instrument.items if item.type == "likert"}
    funder = db_session.scalar(select(Sector.id).where(Sector.name == awkward.sectors["Funder"]))
    for i in range(2):
        respondent = survey_service.Respondent(funder, awkward.places["North"].id)
        survey_service.insert_response(db_session, second, respondent, answers, f"late-North-Funder-{i}", late)
    admin = make_user(Role.ADMIN)
    rows = [["place", "sector", *answers]]
    rows += [[awkward.places["South"].name, awkward.sectors["Education"], *map(str, answers.values())]] * 12
    record = importing.start_import(db_session, second, admin, "late.csv", csv_bytes(rows))
    assert importing.commit_import(db_session, record, survey.places, actor=admin) == 12
    db_session.flush()
    after = audited_version(client, db_session, survey, sectors, places, "#after")
    assert_no_small_change_shown_in_both(before, after, len(places) * len(sectors))

    # The admin undoes that import: a third version, beside each of the others.
    importing.undo_import(db_session, importing.imported_file(db_session, record.id), actor=admin)
    db_session.flush()
    undone = audited_version(client, db_session, survey, sectors, places, "#undone")
    assert_no_small_change_shown_in_both(before, undone, len(places) * len(sectors))
    assert_no_small_change_shown_in_both(after, undone, len(places) * len(sectors))


def audited_version(client, db_session, survey, sectors, places, version: str) -> Record:
    """Every view of the survey as it now stands, recorded with its waves marked as
    this version, and checked."""
    record, items = collect(client, survey, sectors, version)
    truth = {(w + version, *rest): value for (w, *rest), value in true_cells(db_session, survey).items()}
    assert not (problems := check(record, truth, items, places, sectors)), "\n".join(problems)
    return record


def assert_no_small_change_shown_in_both(earlier: Record, later: Record, cells_in_a_wave: int) -> None:
    """No group is published in both versions with a count that changed by fewer than k,
    but the wave's whole number of responses, which is public; then none of its answers
    (no sum, so no mean) may be published in the later version."""
    def unmarked(cells):
        return frozenset((w.split("#")[0], *rest) for w, *rest in cells)

    counts = {unmarked(cells): low for cells, what, low, high in earlier.equations if what == "n" and low == high}
    sums = {unmarked(cells) for cells, what, *_ in later.equations if what == "sum"}
    for cells, what, low, high in later.equations:
        group = unmarked(cells)
        if what == "n" and low == high and group in counts and 0 < abs(low - counts[group]) < K:
            assert len(group) == cells_in_a_wave and group not in sums, (sorted(cells)[:2], counts[group], low)


def _bounds(record: Record, wave, construct, places, sectors, targets, small: set) -> list[str]:
    """LP bounds for every withheld group of one wave and construct: its count, and the
    mean of each withheld as too small or `small` (fewer than k in truth). Variables: n
    and sum for each (place, sector); constraints: the published equations (with "fewer
    than k responses" as 1 ≤ n ≤ k − 1 for its group) and n ≤ sum ≤ 5n (answers are 1–5)."""
    cells = [(wave, p, s, construct) for p in places for s in sectors]
    index = {cell: i for i, cell in enumerate(cells)}
    size = len(cells)
    rows_upper, bounds_upper = [], []
    for members, what, low, high in record.equations:
        members = [m for m in members if m[0] == wave and m[3] == construct]
        if not members:
            continue
        row = _row(index, size, members, what)
        rows_upper += [row, -row]
        bounds_upper += [high, -low]
    for cell in cells:  # n ≤ sum ≤ 5n
        i = index[cell]
        low_row, high_row = np.zeros(2 * size), np.zeros(2 * size)
        low_row[i], low_row[size + i] = 1, -1
        high_row[i], high_row[size + i] = -5, 1
        rows_upper += [low_row, high_row]
        bounds_upper += [0, 0]
    a_ub, b_ub = np.array(rows_upper), np.array(bounds_upper)
    problems = []
    for group in targets:
        name = sorted(group)[0][1:3] if len(group) == 1 else f"{len(group)} cells of {sorted(group)[0][2]}"
        counts = []
        for sign in (1, -1):
            result = linprog(sign * _row(index, size, group, "n"), A_ub=a_ub, b_ub=b_ub,
                             bounds=[(0, None)] * (2 * size), method="highs")
            assert result.status in (0, 3), (name, result.message)  # 3: unbounded, nothing pins it
            counts.append(sign * result.fun if result.status == 0 else np.inf)
        if np.floor(counts[1] + 1e-6) - np.ceil(counts[0] - 1e-6) < 1:
            problems.append(f"{wave} {construct} {name}: its count is fixed at {counts[0]:.2f}")
        if not (record.withheld[group].startswith("fewer than") or group in small):
            # A complement (withheld only so a small group cannot be worked out) may be
            # large, and then its mean is narrowly bounded by the small group's: what
            # matters is that the small group's own mean is not.
            continue
        means = _mean_range(a_ub, b_ub, size, _row(index, size, group, "n"), _row(index, size, group, "sum"))
        if means[1] - means[0] < 2 - 1e-6:
            problems.append(f"{wave} {construct} {name}: its mean lies within {means[0]:.2f}..{means[1]:.2f}")
    return problems


def _row(index, size, members, what) -> np.ndarray:
    row = np.zeros(2 * size)
    for member in members:
        row[index[member] + (size if what == "sum" else 0)] = 1
    return row


def _mean_range(a_ub, b_ub, size, n_row, sum_row) -> tuple[float, float]:
    """The feasible range of a group's mean, Σsum / Σn, by the Charnes–Cooper transform:
    every variable scaled by t = 1/Σn, so Σn·t = 1 and the mean is a linear objective."""
    a = np.hstack([a_ub, -b_ub[:, None]])  # a_ub·x' ≤ b_ub·t
    equality = np.append(n_row, 0.0)[None, :]
    result = []
    for sign in (1, -1):
        objective = np.append(sign * sum_row, 0.0)
        solved = linprog(objective, A_ub=a, b_ub=np.zeros(len(a)), A_eq=equality, b_eq=[1],
                         bounds=[(0, None)] * (2 * size + 1), method="highs")
        assert solved.status == 0, solved.message
        result.append(sign * solved.fun)
    return result[0], result[1]


def test_raising_the_thresholds_gives_nothing_away_beside_what_was_published_before(client, awkward, make_user,
                                                                                    login, db_session):
    """Raising k is a permitted change to published waves: a reader may keep every page
    from before and set it beside every page after. Together
    (the same cells: the answers did not change), no group either version withholds and
    neither shows can be worked out."""
    survey = awkward.survey
    login(make_user(Role.EVALUATOR))
    places, sectors = [place.name for place in survey.places], sorted(awkward.sectors.values())
    before, items = collect(client, survey, sectors)
    survey_service.update_settings(db_session, survey, make_user(Role.ADMIN), AnonymityMode(survey.anonymity),
                                   7, survey.k_briefing, survey.min_organisations, {})
    db_session.flush()
    after, _ = collect(client, survey, sectors)
    assert any(FEWER.match(reason) and FEWER.match(reason)[1] == "7" for reason in after.withheld.values())
    together = Record()
    together.equations = before.equations + after.equations
    together.published = before.published | after.published
    together.withheld = {**before.withheld, **after.withheld}
    assert not (problems := check(together, awkward.truth, items, places, sectors)), "\n".join(problems)


def test_the_pen_tests_subtraction_across_two_views_no_longer_isolates_faith(client, awkward, make_user, login):
    """Finding 2: comparing Wave 1 → 3 hid Faith and Education, Wave 2 → 3 hid Faith and
    Business, and the headline minus what each view showed gave Faith's Wave 3 exactly.
    Now what Wave 3 withholds is the same in both views, and whatever the two views show
    of Wave 3 leaves at least two groups with answers unaccounted for."""
    survey = awkward.survey
    login(make_user(Role.EVALUATOR))
    north = awkward.places["North"]
    first, second, third = survey.waves
    shown_in_third: dict[str, float] = {}
    hidden_by_view = []
    for reference in (first, second):
        query = {"reference": reference.id, "current": third.id, "baseline": "", "place": north.id}
        rows = read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs/trust/sectors.csv", query_string=query))
        hidden_by_view.append({r["group"] for r in rows if r["withheld"]})
        shown_in_third.update({r["group"]: float(r["current_n"]) for r in rows if not r["withheld"]})
        headline = next(r for r in read_csv(client.get(f"/analysis/surveys/{survey.id}/constructs.csv",
                                                       query_string=query)) if r["construct"] == "trust")
    faith = awkward.sectors["Faith"]
    assert all(faith in hidden for hidden in hidden_by_view)
    unaccounted = [s for s in awkward.sectors.values() if s not in shown_in_third
                   and SIZES["North"][3][next(k for k, v in awkward.sectors.items() if v == s)] > 0]
    assert faith in unaccounted and len(unaccounted) >= 2
    if _number(headline["current_n"]):
        assert float(headline["current_n"]) - sum(shown_in_third.values()) > SIZES["North"][3]["Faith"]


# --- briefings ---------------------------------------------------------------------------

PUBLIC_K = 10  # the survey's public threshold (k_briefing), which briefings withhold at
ROUNDED = 2.5  # a count rounded to the nearest 5 lies within 2.5 of the true count
SHOWN = re.compile(r"^(\d+\.\d\d) \((\d+) responses\)$")  # a trend point: mean to 2 places (n rounded)


class BriefingFigures(HTMLParser):
    """The figures a briefing preview publishes, read from the data- attributes its
    partials give them (each repeats exactly what the element shows): responses per wave,
    the trends' points, the appendix's rows and the sector tiles by construct."""

    def __init__(self):
        super().__init__()
        self.waves: list[dict] = []
        self.points: dict[str, list] = {}  # construct name → [(wave, text), ...]
        self.appendix: list[dict] = []
        self.sector_tiles: list[tuple[str, str, str]] = []  # (construct name, sector, withheld words)
        self._panel: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-wave" in a:
            self.waves.append(a)
        elif tag == "tr" and "data-construct" in a:
            self.appendix.append(a)
        elif tag == "figure" and "data-points" in a:
            self.points[a["data-construct"]] = json.loads(a["data-points"])
        elif tag == "div" and "data-construct" in a:  # a sector panel; the headline's tiles come before any
            self._panel = a["data-construct"]
        elif tag == "div" and "data-withheld" in a and self._panel is not None:
            self.sector_tiles.append((self._panel, a["data-name"], a["data-withheld"]))


def rounded_figure(record: Record, cells, n: str, mean: str | None = None) -> None:
    """A count rounded to 5 and, if shown, a mean to 2 places. The mean bounds the sum
    only through the count's interval (Σ within (mean ± 0.005) × (n ± 2.5)): a looser
    equation than the exact one, but every group a briefing shows is shown at k = 5 on the
    Results pages too, with its exact count and a mean to 4 places, so nothing is lost.
    Rounded figures are not publications of their group: it stays a target if no view
    shows it exactly."""
    cells = frozenset(cells)
    shown = float(n)
    record.equations.append((cells, "n", max(shown - ROUNDED, 0.0), shown + ROUNDED))
    if mean is not None:
        m = float(mean)
        record.equations.append((cells, "sum", (m - 0.005) * max(shown - ROUNDED, 0.0), (m + 0.005) * (shown + ROUNDED)))


def withheld_in_briefing(record: Record, cells, reason: str, per_wave: bool = True) -> None:
    """Record.hidden at the public threshold: "fewer than 10 responses" of this wave is
    1 ≤ n ≤ 9, and such a group is small, so its mean is checked too even where the
    Results pages withhold it only as a complement."""
    cells = frozenset(cells)
    small = per_wave and reason == f"fewer than {PUBLIC_K} responses"
    if small or (per_wave and record.withheld.get(cells, COMPARED) == COMPARED):
        record.withheld[cells] = reason
    else:
        record.withheld.setdefault(cells, COMPARED)
    if small:
        record.equations.append((cells, "n", 1.0, PUBLIC_K - 1.0))


def collect_briefings(client, survey, sectors: list[str], record: Record, names: dict[str, str]) -> set[frozenset]:
    """Every briefing preview an evaluator can open (the Results views' query strings: every
    pair of waves, every place and all places), its figures for the audited constructs
    added to `record`. Returns the sectors' groups (wave × construct, in a place or all)
    whose tile a briefing withholds as fewer than 10 responses, in either wave compared."""
    waves = {wave.label: wave for wave in survey.waves}
    small: set[frozenset] = set()
    for reference, current, query, here in views(survey):
        response = client.get(f"/briefings/surveys/{survey.id}", query_string=query)
        assert response.status_code == 200, response.status_code
        figures = BriefingFigures()
        figures.feed(response.get_data(as_text=True))
        assert len(figures.waves) == len(waves) and figures.appendix and figures.points

        def group(wave: str, construct: str, sector: str | None = None):
            return [(wave, p, s, construct) for p in here for s in ([sector] if sector else sectors)]

        for construct in AUDITED:
            name = names[construct]
            # Responses to the wave, whatever was answered: every respondent here
            # answers every construct (check() verifies it against the data), so it
            # is each construct's count.
            for row in figures.waves:
                if _number(row["data-responses"]):
                    rounded_figure(record, group(row["data-wave"], construct), row["data-responses"])
                else:
                    withheld_in_briefing(record, group(row["data-wave"], construct), row["data-responses"])
            for wave, text in figures.points[name]:
                if shown := SHOWN.match(text):
                    rounded_figure(record, group(wave, construct), shown.group(2), shown.group(1))
                elif text != "no responses":
                    withheld_in_briefing(record, group(wave, construct), text)
            row = next(r for r in figures.appendix if r["data-construct"] == name)
            for wave, side in ((reference.label, "reference"), (current.label, "current")):
                if row["data-withheld"]:  # one set of words for both waves
                    withheld_in_briefing(record, group(wave, construct), row["data-withheld"], per_wave=False)
                else:
                    rounded_figure(record, group(wave, construct), row[f"data-{side}-n"], row[f"data-{side}-mean"])
            for panel, sector, words in figures.sector_tiles:
                if panel == name and words:  # a sector's tile covers both waves; shown, it is a verdict only
                    for wave in (reference.label, current.label):
                        withheld_in_briefing(record, group(wave, construct, sector), words, per_wave=False)
                        if words == f"fewer than {PUBLIC_K} responses":
                            small.add(frozenset(group(wave, construct, sector)))
    return small


def test_no_group_a_briefing_withholds_can_be_worked_out_with_the_results_pages(client, awkward, make_user, login,
                                                                              db_session):
    """Issue 9: the auditor includes briefings. Everything the Results pages publish at
    k = 5 and every briefing's figures at k = 10 together: every group no view shows, at
    either threshold, keeps at least two feasible counts, and a wide mean if it has fewer
    than 10 responses.
    Groups of 5 to 9 that a briefing withholds but Results show are published internally,
    so they are not targets."""
    survey = awkward.survey
    assert survey.k_briefing == PUBLIC_K
    login(make_user(Role.EVALUATOR))
    places, sectors = [place.name for place in survey.places], sorted(awkward.sectors.values())
    names = dict(db_session.execute(select(Construct.code, Construct.name).where(Construct.code.in_(AUDITED))).all())
    record, items = collect(client, survey, sectors)
    internal_equations = len(record.equations)
    with publication.recording() as ledger:
        small = collect_briefings(client, survey, sectors, record, names)
    assert len(record.equations) > internal_equations
    # What the output layer hands a briefing (exactly; the briefing rounds it) is
    # published on the Results pages already: a briefing adds only rounded copies.
    handed = ledger_record(ledger, sectors, "", {*AUDITED, *items})
    assert handed.published and handed.published <= record.published
    # The public threshold is at work: a briefing withholds some sector of 5 to 9
    # responses that the Results pages show, and some sector no view shows.
    count = {cells: sum(awkward.truth.get(cell, (0, 0.0))[0] for cell in cells) for cells in small}
    assert {cells for cells in small & record.published if K <= count[cells] < PUBLIC_K}
    assert small - record.published
    # Every group of fewer than 10 that no view shows is small for the public, so its
    # mean is checked too, even where the Results pages withhold it as a complement.
    for cells, reason in list(record.withheld.items()):
        size = sum(awkward.truth.get(cell, (0, 0.0))[0] for cell in cells)
        if cells not in record.published and 0 < size < PUBLIC_K and not reason.startswith("fewer than"):
            record.withheld[cells] = f"fewer than {PUBLIC_K} responses"
    assert not (problems := check(record, awkward.truth, items, places, sectors)), "\n".join(problems)


# --- trust blocks --------------------------------------------------------------------------

TRUST_LOW, TRUST_HIGH = 1.0, 4.0  # a rater's mean over the trust dimensions lies within the 1–4 scale


def collect_trust(client, survey):
    """The trust blocks the output layer publishes (analysis.publication records them)
    while an evaluator opens every trust page, trust CSV and trust-change CSV (every pair
    of waves, every place and all places), as linear constraints over the atomic trust
    cells (wave × place × rater sector × target sector; n: raters, s: the sum of their
    means): an exact count, and a mean as its exact sum. Checked on the way: the CSVs,
    read as a reader would, show nothing the recording lacks; the pages' density counts
    only the blocks shown; changes depend only on published blocks. Returns
    (constraints, withheld groups with their words, groups whose count is published)."""
    with publication.recording() as ledger:
        read = read_trust(client, survey)
    constraints, withheld, published = [], {}, set()
    for figure in ledger.figures:
        group = figure.cells
        # A mean beside a withheld count gives the count away (two places' means and the
        # all-places block fix both counts): the leak this test found.
        assert figure.count is not None or figure.mean is None, figure
        target = group.measure.removeprefix(publication.TRUST)
        cells = frozenset((group.wave, p, rater, target) for p in group.places for rater in group.sectors)
        if figure.count is not None:
            published.add(cells)
            constraints.append(({("n", c): 1.0 for c in cells}, float(figure.count), float(figure.count)))
            if figure.mean is not None:
                total = figure.mean * figure.count
                constraints.append(({("s", c): 1.0 for c in cells}, total - 1e-7, total + 1e-7))
        if figure.withheld:
            withheld[cells] = figure.withheld
            if small := FEWER.match(figure.withheld):
                constraints.append(({("n", c): 1.0 for c in cells}, 1.0, float(small[1]) - 1.0))
    read_constraints, read_withheld, read_published = read
    assert read_published <= published and set(read_withheld) <= set(withheld)
    assert all(form.keys() <= {key for f, _, _ in constraints for key in f} for form, _, _ in read_constraints)
    assert_derived_from_published(ledger)
    return constraints, withheld, published


def read_trust(client, survey):
    """Every trust CSV, trust-change CSV and trust page an evaluator can open, read as a
    reader would: each block's count, and its mean as its sum within its rounding (with a
    count) or as a ratio (mean − h)·Σn ≤ Σs ≤ (mean + h)·Σn were the count withheld but the
    mean shown. Returns (constraints, withheld groups with their words, groups whose
    count is published)."""
    constraints: list[tuple[dict, float, float]] = []
    withheld: dict[frozenset, str] = {}
    published: set[frozenset] = set()
    densities = 0  # density figures over at least one pair shown
    base = f"/analysis/surveys/{survey.id}"
    for reference, current, query, here in views(survey):
        shown: dict[tuple, bool] = {}
        for row in read_csv(client.get(f"{base}/trust.csv", query_string=query)):
            cells = frozenset((row["wave"], p, row["rater"], row["target"]) for p in here)
            n_form = {("n", c): 1.0 for c in cells}
            s_form = {("s", c): 1.0 for c in cells}
            if _number(row["raters"]):
                n = float(row["raters"])
                published.add(cells)
                constraints.append((n_form, n, n))
                if _number(row["mean"]):
                    half = 0.00005 * n + 1e-9
                    constraints.append((s_form, float(row["mean"]) * n - half, float(row["mean"]) * n + half))
            elif _number(row["mean"]):  # the count withheld, the mean shown: Σs − mean·Σn ≈ 0
                m = float(row["mean"])
                constraints.append(({**s_form, **{key: -(m - 0.00005) for key in n_form}}, 0.0, np.inf))
                constraints.append(({**s_form, **{key: -(m + 0.00005) for key in n_form}}, -np.inf, 0.0))
                withheld.setdefault(cells, row["raters"])
            if row["withheld"]:
                withheld[cells] = row["withheld"]
                if row["withheld"].startswith("fewer than") and row["withheld"].endswith("responses"):
                    constraints.append((n_form, 1.0, K - 1.0))
            shown[(row["wave"], row["rater"], row["target"])] = _number(row["mean"])
        # Density (a share of pairs, nonlinear) only over the blocks the CSV shows: the
        # page's "of N pairs shown" is that count for every wave.
        page = client.get(f"{base}/trust", query_string=query).get_data(as_text=True)
        for wave in {w for w, _, _ in shown}:
            pairs = sum(1 for (w, r, t), visible in shown.items() if w == wave and visible and r != t)
            sentence = re.search(rf">{re.escape(wave)}</h2>\s*<p class=\"govuk-body\">Density: (.*?)\.</p>", page)
            assert sentence, wave
            assert (f"of {pairs} pairs shown" in sentence[1]) if pairs else "not enough pairs shown" in sentence[1]
            densities += bool(pairs)
        # A change (a difference of two means, nonlinear in the cells) only between
        # blocks shown in both waves.
        for row in read_csv(client.get(f"{base}/trust-changes.csv", query_string=query)):
            if _number(row["difference"]):
                for wave in (reference.label, current.label):
                    assert shown.get((wave, row["rater"], row["target"])), (wave, row)
    assert densities, "the survey should publish some density figures"
    return constraints, withheld, published


def trust_bounds(constraints, withheld, published, truth: dict, places, sectors) -> list[str]:
    """For every trust group no view shows a count for: at least two feasible counts, and
    where it was withheld as too small, a mean range at least half the 1–4 scale wide."""
    for form, low, high in constraints:  # the recording matches the data
        value = sum(coef * truth.get(cell, (0, 0.0))[0 if what == "n" else 1] for (what, cell), coef in form.items())
        assert low - 1e-6 <= value <= high + 1e-6, (sorted(form)[:2], low, high, value)
    problems = []
    for wave in sorted({cell[0] for group in withheld for cell in group}):
        cells = [(wave, p, r, t) for p in places for r in sectors for t in sectors]
        index = {cell: i for i, cell in enumerate(cells)}
        size = len(cells)

        def row_of(form):
            row = np.zeros(2 * size)
            for (what, cell), coef in form.items():
                row[index[cell] + (size if what == "s" else 0)] += coef
            return row

        a, b = [], []
        for form, low, high in constraints:
            if next(iter(form))[1][0] != wave:
                continue
            row = row_of(form)
            if high < np.inf:
                a.append(row)
                b.append(high)
            if low > -np.inf:
                a.append(-row)
                b.append(-low)
        for i in range(size):  # TRUST_LOW·n ≤ s ≤ TRUST_HIGH·n
            low_row, high_row = np.zeros(2 * size), np.zeros(2 * size)
            low_row[i], low_row[size + i] = TRUST_LOW, -1
            high_row[i], high_row[size + i] = -TRUST_HIGH, 1
            a += [low_row, high_row]
            b += [0, 0]
        a_ub, b_ub = np.array(a), np.array(b)
        for group, reason in withheld.items():
            if next(iter(group))[0] != wave or group in published or not sum(truth.get(c, (0, 0))[0] for c in group):
                continue
            n_row = row_of({("n", c): 1.0 for c in group})
            counts = []
            for sign in (1, -1):
                result = linprog(sign * n_row, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * (2 * size), method="highs")
                assert result.status in (0, 3), result.message
                counts.append(sign * result.fun if result.status == 0 else np.inf)
            name = f"{wave} {sorted(group)[0][2]} → {sorted(group)[0][3]} ({len(group)} places)"
            if np.floor(counts[1] + 1e-6) - np.ceil(counts[0] - 1e-6) < 1:
                problems.append(f"trust {name}: its count is fixed at {counts[0]:.2f}")
            if reason.startswith("fewer than"):
                means = _mean_range(a_ub, b_ub, size, n_row, row_of({("s", c): 1.0 for c in group}))
                if means[1] - means[0] < (TRUST_HIGH - TRUST_LOW) / 2 - 1e-6:
                    problems.append(f"trust {name}: its mean lies within {means[0]:.2f}..{means[1]:.2f}")
    return problems


def test_no_withheld_trust_block_can_be_worked_out_from_every_view(client, awkward, make_user, login):
    """The trust blocks (rater sector × target sector, per wave, for every place and all
    places, in every pair of waves): every published count and mean as equations over the
    atomic trust cells; every block no view counts keeps two feasible counts, and a wide
    mean if it was withheld as too small; changes only between blocks shown in both waves."""
    survey = awkward.survey
    login(make_user(Role.EVALUATOR))
    places, sectors = [place.name for place in survey.places], sorted(awkward.sectors.values())
    constraints, withheld, published = collect_trust(client, survey)
    assert constraints and withheld, "the survey should publish trust blocks and withhold some"
    assert not (problems := trust_bounds(constraints, withheld, published, awkward.trust, places, sectors)), \
        "\n".join(problems)


# --- co-design workshops ---------------------------------------------------------------------

GAP = re.compile(r"^How might we close the gap between the (.+) and (.+) sectors on (.+)\?$")


def test_a_workshop_in_the_awkward_place_uses_only_cells_published_at_the_public_threshold(app, awkward, db_session):
    """A workshop in either place, against its default comparison (the latest wave) and
    Wave 1 → Wave 2:
    its proposed "How might we…" prompts and its review tiles are nonlinear figures (a
    verdict, a gap between two sector means), so each may depend only on cells published
    at k = 10: a gap names two sectors the public decision shows in the current wave,
    each with at least 10 responses there; a verdict prompt or tile comes from a construct
    row the public decision shows, and a withheld row's tile says why and gives no verdict."""
    from briefings.service import PublicResults
    from codesign.results import latest_selection, propose_prompts, review_tiles, selection_for

    survey = awkward.survey
    assert survey.k_briefing == PUBLIC_K
    names = dict(db_session.execute(select(Construct.name, Construct.code)).all())
    tiles_seen = 0
    with app.test_request_context():
        for place in awkward.places.values():
            first, second, _ = survey.waves
            selections = [latest_selection(place), selection_for(survey, first, second, place)]
            assert selections[0] is not None
            for selection in filter(None, selections):
                public = PublicResults(selection)
                rows = {row["construct"]: row for row in public.construct_rows}
                current = selection.current.label
                for proposal in propose_prompts(selection, []):
                    if gap := GAP.match(proposal.text):
                        low, high, construct = gap.groups()
                        code = names[next(name for name in names if name.lower() == construct)]
                        shown = {row["group"] for row in public.sector_rows(code) if not row.get("withheld")}
                        for sector in (low, high):
                            assert sector in shown, (proposal.text, sector)
                            assert awkward.truth[(current, place.name, sector, code)][0] >= PUBLIC_K, proposal.text
                    else:
                        shown_rows = [row for code, row in rows.items() if not row.get("withheld")
                                      and f"‘{public.names[code]}’" in proposal.text]
                        assert shown_rows, proposal.text
                for tile in review_tiles(selection, []):
                    row = rows[names[tile.name]]
                    if row.get("withheld"):
                        assert tile.withheld, tile
                    place_count = sum(n for (w, p, s, c), (n, _) in awkward.truth.items()
                                      if w == current and p == place.name and c == names[tile.name])
                    if not tile.withheld:
                        assert place_count >= PUBLIC_K, tile
                    tiles_seen += 1
    assert tiles_seen, "a workshop should show review tiles to audit"


class BriefingTrust(HTMLParser):
    """The briefing's trust tables: (table caption, rater, target) → the text shown, for
    the current wave ("Trust in …") and the change since the reference ("Change since …")."""

    def __init__(self):
        super().__init__()
        self.caption, self.columns, self.cells = "", [], {}
        self.captions: list[str] = []
        self._in: str | None = None
        self._table = False
        self._row: str | None = None
        self._column = 0
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "hf-table--trust" in (a.get("class") or ""):
            self._table = True
        elif self._table and tag in ("caption", "th", "td"):
            self._in, self._text = tag, ""
            self._scope = a.get("scope")

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = False
        if not self._table or tag != self._in:
            return
        text, self._in = self._text.strip(), None
        if tag == "caption":
            self.caption, self.columns, self._row = text, [], None  # the corner cell is no figure
            self.captions.append(text)
        elif tag == "th" and self._scope == "col":
            self.columns.append(text)
        elif tag == "th" and self._scope == "row":
            self._row, self._column = text, 0
        elif tag == "td" and self._row is not None:
            self.cells[(self.caption, self._row, self.columns[self._column])] = text
            self._column += 1


def test_a_briefings_trust_table_shows_only_blocks_of_at_least_ten_raters(client, awkward, make_user, login):
    """The briefing preview's trust table (the current wave, at the public threshold),
    for all places and each place: a mean is shown only for a block of at least 10 raters
    in the briefing's place or places; every other block shows words, not a figure."""
    survey = awkward.survey
    login(make_user(Role.EVALUATOR))
    places = {place.name: place for place in survey.places}
    texts: set[str] = set()
    for place in [None, *places.values()]:
        query = {"place": place.id} if place else {}
        response = client.get(f"/briefings/surveys/{survey.id}", query_string=query)
        assert response.status_code == 200, response.status_code
        table = BriefingTrust()
        table.feed(response.get_data(as_text=True))
        current = next(c for c in table.captions if c.startswith("Trust in ")).removeprefix("Trust in ")
        here = [place.name] if place else list(places)

        def raters(wave, rater, target):
            return sum(awkward.trust.get((wave, p, rater, target), (0, 0.0))[0] for p in here)

        texts |= set(table.cells.values())
        for (caption, rater, target), text in table.cells.items():
            if not re.search(r"\d\.\d", text):  # words, not a figure
                continue
            # A mean needs 10 raters; a change (a difference of two means) 10 in both waves.
            waves = [current] + ([caption.removeprefix("Change since ")] if caption.startswith("Change since ") else [])
            for wave in waves:
                assert raters(wave, rater, target) >= PUBLIC_K, (place and place.name, caption, rater, target, text)
    # In this survey the public decision withholds every block (the smallest sectors take
    # the rest with them along each line), so what is checked here is that no figure leaks.
    assert texts, "the briefings should have trust tables to audit"
