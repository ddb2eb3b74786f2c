"""Every workshop route with every role: facilitators and admins run workshops, the
register is also for coordinators, participants' and owners' pages are public. (The
whole route table is walked in tests/core/test_security.py too.)"""

import re
from datetime import date

import pytest

from codesign import service
from core.models import Role
from tests.conftest import sign_in

IDENTITIES = ["anonymous", *Role]


@pytest.fixture
def workshop_values(app, db_session, place, make_organisation, construct, make_workshop):
    workshop = make_workshop(stage="ideas")
    idea = service.add_idea(db_session, workshop, None, "An idea", "walk-idea", paper=True)
    cluster = service.add_cluster(db_session, workshop, "A group")
    action = service.add_action(db_session, workshop, "An action", make_organisation(place=place).id, "Sam", None,
                                date(2027, 6, 1), construct.id, None)
    db_session.flush()
    return {"workshop_id": workshop.id, "code": workshop.join_code, "idea_id": idea.id, "cluster_id": cluster.id,
            "action_id": action.id, "action_token": service.action_token(app.config["SECRET_KEY"], action)}


def test_every_workshop_route_with_every_role(app, db_session, workshop_values, make_user, place, make_place):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("codesign.")]
    assert len(rules) > 25
    checked = 0
    for identity in IDENTITIES:
        for scoped_elsewhere in (False, True):
            if scoped_elsewhere and identity not in (Role.COORDINATOR, Role.FACILITATOR):
                continue
            client = app.test_client()
            if identity != "anonymous":
                sign_in(client, make_user(identity, places=[make_place() if scoped_elsewhere else place]))
            for rule in rules:
                path = rule.rule
                for argument in rule.arguments:
                    path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(workshop_values[argument]), path)
                allowed = app.view_functions[rule.endpoint].allowed_roles
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    response = client.open(path, method=method, data={})
                    response.close()
                    where = f"{identity} (elsewhere: {scoped_elsewhere}) {method} {path} -> {response.status_code}"
                    # Someone of another place may open the lists, never this place's workshop or action.
                    refused = scoped_elsewhere and {"workshop_id", "action_id"} & set(rule.arguments)
                    if identity in allowed and not refused:
                        assert response.status_code in (200, 204, 302, 304), where
                        if response.status_code == 302:
                            assert not response.location.startswith("/sign-in"), where
                    elif identity == "anonymous":
                        assert response.status_code == 302 and response.location.startswith("/sign-in"), where
                    else:
                        assert response.status_code == 403, where
                    checked += 1
    assert checked > 150
