"""Lists count at most COUNT_CAP rows past the page asked for (issue 13: lists stay flat); the API says when its
`count` is a lower bound, the pager shows it with a "+", and every page stays reachable."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string

from incidents.models import Incident
from portal.accounts.roles import Role
from portal.core.pagination import paginate
from tests.incidents.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven(declare, monkeypatch):
    monkeypatch.setattr("portal.core.pagination.COUNT_CAP", 3)
    return [declare("P3", at=T0 - timedelta(hours=i), title=f"incident {i}") for i in range(7)]


def test_the_api_caps_its_count_and_says_so_yet_every_page_is_reachable(seven, token_client):
    api = token_client(Role.VIEWER)
    first = api.get("/api/v1/incidents/", {"page_size": 2}).json()
    assert (first["count"], first["count_capped"]) == (3, True)
    assert [row["title"] for row in first["results"]] == ["incident 0", "incident 1"]
    assert "page=2" in first["next"]
    third = api.get("/api/v1/incidents/", {"page_size": 2, "page": 3}).json()
    assert (third["count"], third["count_capped"]) == (7, False)  # counted from its own start: the end is in reach
    assert [row["title"] for row in third["results"]] == ["incident 4", "incident 5"]
    last = api.get("/api/v1/incidents/", {"page_size": 2, "page": "last"}).json()
    assert (last["count"], last["count_capped"], last["next"]) == (7, False, None)
    assert [row["title"] for row in last["results"]] == ["incident 6"]
    assert api.get("/api/v1/incidents/", {"page_size": 2, "page": 5}).status_code == 404


@pytest.mark.parametrize("page", [2**62, 2708799920997747130368])
def test_a_page_past_any_table_is_a_404_and_the_pages_show_the_last(declare, token_client, client, make_user, page):
    """Found by the schema fuzz on PostgreSQL: such a page's OFFSET overflowed a bigint (a 500)."""
    declare("P3")
    answer = token_client(Role.VIEWER).get("/api/v1/services/", {"page": page})
    assert answer.status_code == 404
    assert "page" in answer.json()["detail"].lower()
    client.force_login(make_user(Role.VIEWER))
    assert client.get("/incidents/", {"page": page}).status_code == 200


def test_a_short_list_counts_exactly(declare, token_client):
    declare("P3")
    body = token_client(Role.VIEWER).get("/api/v1/incidents/").json()
    assert (body["count"], body["count_capped"], body["next"]) == (1, False, None)


def test_the_schema_documents_the_flag(token_client):
    schema = token_client(Role.VIEWER).get("/api/schema/", {"format": "json"}).json()
    page = schema["components"]["schemas"]["PaginatedIncidentOutputList"]
    assert page["properties"]["count_capped"]["type"] == "boolean"
    assert "count_capped" in page["required"]


def test_the_pager_shows_a_capped_total_with_a_plus_and_past_the_end_gives_the_last_page(seven, rf):
    incidents = Incident.objects.order_by("-detected_at")
    page, _query = paginate(rf.get("/incidents/"), incidents, per_page=2)
    assert [incident.title for incident in page] == ["incident 0", "incident 1"]
    html = render_to_string("components/pagination.html", {"page": page, "query": "", "target": "#incident-table"})
    assert "Page 1 of 2+ · 3+ entries" in html
    page, _query = paginate(rf.get("/incidents/", {"page": 9}), incidents, per_page=2)
    assert (page.number, [incident.title for incident in page]) == (4, ["incident 6"])
    html = render_to_string("components/pagination.html", {"page": page, "query": "", "target": "#incident-table"})
    assert "Page 4 of 4 · 7 entries" in html
