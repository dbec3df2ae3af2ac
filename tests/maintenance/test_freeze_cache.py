"""The deploy gate reads cached rules, yet sees every change to a rule at once: through the services and through a
plain save or delete (the admin's way) alike (issue 13: the deploy gate within 1.5x the floor)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from maintenance.models import FreezeRule
from maintenance.services import freeze_rule_create, freeze_rule_update
from portal.accounts.roles import Role

pytestmark = pytest.mark.django_db
CHECK = reverse("api:freeze-check")
AT = {"environment": "production", "at": "2027-07-14T12:00:00Z"}  # no seeded freeze then


def allowed(client) -> bool:
    response = client.get(CHECK, AT)
    assert response.status_code == 200, response.json()
    return response.json()["allowed"]


def test_a_rule_change_is_seen_by_the_next_check(token_client, make_user):
    gate, admin = token_client(Role.VIEWER), make_user(Role.ADMIN, username="ada")
    assert allowed(gate)
    rule = freeze_rule_create(
        actor=admin, name="Launch", kind=FreezeRule.Kind.ONE_OFF, level="blocked", environments=["production"],
        first_day=date(2027, 7, 13), last_day=date(2027, 7, 15),
    )  # fmt: skip
    assert not allowed(gate)
    rule = freeze_rule_update(rule=rule, actor=admin, last_day=date(2027, 7, 13))  # its dates: spans are memoized
    assert allowed(gate)
    rule = freeze_rule_update(rule=rule, actor=admin, last_day=date(2027, 7, 15))
    assert not allowed(gate)
    freeze_rule_update(rule=rule, actor=admin, active=False)
    assert allowed(gate)
    rule.refresh_from_db()
    rule.active = True
    rule.save()  # as the admin saves it
    assert not allowed(gate)
    rule.delete()
    assert allowed(gate)


def test_a_repeated_check_does_not_read_the_rules_again(token_client):
    gate = token_client(Role.VIEWER)
    assert allowed(gate)
    with CaptureQueriesContext(connection) as second:
        assert allowed(gate)
    assert not [query for query in second.captured_queries if "maintenance_freezerule" in query["sql"]]
