"""The question editor keeps every item of a construct on its scale, and choice
questions have at least two choices, never invented ones."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from core.models import Role
from core.service import ServiceError
from surveys import questions, service
from surveys.models import Construct, Item
from surveys.question_types import AGREEMENT_5, labelled_choices


def trust_construct(db_session) -> Construct:
    """The built-in Trust construct (made with the first survey)."""
    return db_session.scalar(select(Construct).where(Construct.code == "trust"))


def save(db_session, wave, kind, options, construct_id=None, code="extra_1"):
    return questions.save_item(db_session, wave, None, code, "Extra", "A question?", "", kind, options,
                               construct_id, False, True)


def test_an_item_of_a_construct_is_on_its_scale(db_session, make_survey):
    wave = make_survey().waves[0]
    trust = trust_construct(db_session)
    assert (trust.scale_min, trust.scale_max) == (1, 5)
    seven = labelled_choices([f"Point {n}" for n in range(1, 8)])
    with pytest.raises(ServiceError) as refused:
        save(db_session, wave, "likert", seven, trust.id)
    assert (refused.value.field, refused.value.message) == (
        "options",
        "Questions measuring Trust use its 1 to 5 scale: give 5 choices, one per line, lowest agreement first "
        "(you gave 7)",
    )
    shifted = {"choices": [{"value": n, "label": label} for n, label in enumerate(AGREEMENT_5)]}  # 0 to 4
    with pytest.raises(ServiceError, match="^Questions measuring Trust use its 1 to 5 scale: number the choices 1 to 5$"):
        save(db_session, wave, "likert", shifted, trust.id)
    assert "extra_1" not in [item.code for item in wave.instrument.items]
    item = save(db_session, wave, "likert", labelled_choices(AGREEMENT_5), trust.id)
    assert (item.construct_id, questions.scale_error(trust, item.options)) == (trust.id, None)
    # Without a construct, an agreement question may have its own scale.
    assert save(db_session, wave, "likert", seven, None, code="extra_2").construct_id is None
    codebook = service.responses_frame(db_session, [wave]).codebook.set_index("item")
    assert (codebook.at["extra_1", "max"], codebook.at["extra_2", "max"]) == (5, 7)


@pytest.mark.parametrize("kind", ["likert", "single", "multi"])
def test_choice_questions_need_two_choices(db_session, make_survey, kind):
    wave = make_survey().waves[0]
    for options in ({"choices": []}, labelled_choices(["Only"])):
        with pytest.raises(ServiceError, match="^Give at least two choices$"):
            save(db_session, wave, kind, options)
    assert db_session.scalar(select(Item).where(Item.instrument_id == wave.instrument_id, Item.code == "extra_1")) is None


@pytest.fixture
def coordinator(make_user, make_place, login):
    user = make_user(Role.COORDINATOR, places=[make_place()])
    login(user)
    return user


def errors(response) -> list[tuple[str, str]]:
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [(a["href"], a.get_text(strip=True)) for a in page.select(".govuk-error-summary__list a")]


def test_the_editor_refuses_a_trust_item_off_its_scale(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places).waves[0]
    trust = trust_construct(db_session)
    new_form = BeautifulSoup(client.get(f"/waves/{wave.id}/questions/new").get_data(as_text=True), "html.parser")
    assert new_form.select_one("textarea#choices").get_text().split("\n") == AGREEMENT_5
    fields = {"code": "tr_9", "section": "Trust", "text": "They keep their word.", "type": "likert",
              "construct": trust.id, "required": "y"}
    response = client.post(f"/waves/{wave.id}/questions/new",
                           data=fields | {"choices": "\n".join(f"Point {n}" for n in range(1, 8))})
    assert response.status_code == 200
    message = ("Questions measuring Trust use its 1 to 5 scale: give 5 choices, one per line, lowest agreement "
               "first (you gave 7)")
    assert errors(response) == [("#choices", message)]
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.select_one("#choices-error").get_text(strip=True) == f"Error:{message}"
    assert page.title.get_text().startswith("Error: ")
    db_session.expire_all()
    assert "tr_9" not in [item.code for item in wave.instrument.items]
    assert client.post(f"/waves/{wave.id}/questions/new", data=fields | {"choices": "\n".join(AGREEMENT_5)}).status_code == 302


def test_a_saved_choice_question_with_no_choices_gets_none_invented(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places).waves[0]
    fields = {"code": "pick", "section": "Extra", "text": "Pick one", "type": "single", "construct": 0}
    response = client.post(f"/waves/{wave.id}/questions/new", data=fields | {"choices": "  \n"})
    assert errors(response) == [("#choices", "Give at least two choices")]
    db_session.expire_all()
    assert "pick" not in [item.code for item in wave.instrument.items]
    assert "First choice" not in response.get_data(as_text=True)
    client.post(f"/waves/{wave.id}/questions/new", data=fields | {"choices": "Yes\nNo"})
    db_session.expire_all()
    item = next(item for item in wave.instrument.items if item.code == "pick")
    assert item.options == labelled_choices(["Yes", "No"])
