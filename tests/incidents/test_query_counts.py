"""Lists and pages cost the same number of queries whatever the data holds (issue 13: lists stay flat).

Each URL is read once with a little data and again after adding incidents of every kind the lists render
differently (open, resolved P1/P2 with and without a published review, closed), with their timeline, audit entries
and notification deliveries: the count must not move. Timings live in bench/, not here.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.selectors import INCIDENT_DIRECTORY
from incidents.models import Incident
from incidents.selectors import SERVICES, incident_detail, incident_list
from incidents.services import incident_assign_role, incident_transition, review_for, review_publish, review_update
from maintenance.policy import FREEZE_RULES
from maintenance.selectors import STATUS_PAGE
from oncall.selectors import ONCALL_NOW
from operations.models import Deployment, Procedure
from operations.selectors.alerting import CATALOGUE
from operations.selectors.dashboard import OPERATIONS_SUMMARY
from operations.services.procedures import procedure_run_start
from portal.accounts.roles import Role
from portal.accounts.selectors import HOLDERS
from portal.cluster.models import ActionKind, ActionRun, Look, LookKind, Target
from portal.cluster.selectors import WORKLOADS
from portal.core.attention import DASHBOARD_MAINTENANCE, DASHBOARD_NEEDS
from portal.core.filters import AUDITED_MODELS, FILTER_FORMS
from portal.core.models import Environment
from tests.incidents.conftest import T0

pytestmark = pytest.mark.django_db

API_URLS = ["/api/v1/incidents/", "/api/v1/incidents/?open=true", "/api/v1/audit/", "/api/v1/oncall/now/"]
PAGE_URLS = ["/", "/incidents/", "/incidents/?status=resolved", "/oncall/", "/audit/", "/notifications/", "/actions/",
             "/status/"]  # fmt: skip


def drop_cached_answers() -> None:
    """The freeze rules, on-call now, the status page, the incident pages' contacts, the alert catalogue, the
    dashboard's maintenance, operations and incidents by need, the list pages' filters and the audited models, the
    services, their workloads and the role holders: computed by the next read."""
    for cached in (FREEZE_RULES, ONCALL_NOW, STATUS_PAGE, INCIDENT_DIRECTORY, CATALOGUE, DASHBOARD_MAINTENANCE,
                   OPERATIONS_SUMMARY, DASHBOARD_NEEDS, FILTER_FORMS, AUDITED_MODELS, SERVICES, WORKLOADS,
                   HOLDERS):  # fmt: skip
        cached.invalidate()


def queries(client, url: str) -> int:
    """What the request costs when it computes everything: cached answers dropped."""
    drop_cached_answers()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.fixture
def grow(declare, commander, responder):
    """Add incidents of every shape a list row can take, public ones among them; `n` of each."""

    def add(n: int) -> None:
        for i in range(n):
            at = T0 - timedelta(hours=10 * i + 1)
            staffed = declare("P3", at=at, title=f"open {i}")
            for role in (Incident.Role.COMMUNICATIONS_LEAD, Incident.Role.OPERATIONS_LEAD, Incident.Role.SCRIBE):
                staffed = incident_assign_role(incident=staffed, role=role, user=responder, actor=commander, now=at)
            for code in ("P1", "P2"):
                resolved = declare(code, at=at, title=f"resolved {code} {i}")
                resolved = incident_transition(
                    incident=resolved, to_status="resolved", confirm=True, actor=commander, now=at
                )
                review = review_for(incident=resolved, now=at)
                if i % 2 == 0:
                    review = review_update(review=review, actor=commander, summary="Timeouts.", root_cause="A bug.")
                    review_publish(review=review, actor=commander, now=at)
                Incident.objects.filter(pk=resolved.pk).update(is_public=True)  # the status page's past incidents
            Incident.objects.filter(pk=staffed.pk).update(is_public=True)
            closed = declare("P4", at=at, title=f"closed {i}")
            closed = incident_transition(incident=closed, to_status="resolved", confirm=True, actor=commander, now=at)
            incident_transition(incident=closed, to_status="closed", actor=commander, now=at)

    return add


@pytest.fixture
def clients(make_user, token_client):
    admin = make_user(Role.ADMIN, username="ada.admin", email="ada@example.com")
    page = Client()
    page.force_login(admin)
    return token_client(Role.ADMIN), page


def test_lists_and_pages_cost_the_same_queries_for_any_amount_of_data(grow, clients, time_machine):
    time_machine.move_to(T0, tick=False)
    api, page = clients
    grow(1)
    api.get("/api/v1/me/")  # the token's first use records it (a write, once)
    before = {url: queries(api, url) for url in API_URLS} | {url: queries(page, url) for url in PAGE_URLS}
    grow(4)
    after = {url: queries(api, url) for url in API_URLS} | {url: queries(page, url) for url in PAGE_URLS}
    assert after == before


def test_the_incident_api_reads_reviews_in_the_list_query(grow, clients, time_machine, django_assert_max_num_queries):
    """`allowed_transitions` needs each resolved P1/P2's review (may it close?): joined, not fetched per row."""
    time_machine.move_to(T0, tick=False)
    api, _page = clients
    grow(3)
    response = api.get("/api/v1/incidents/")
    rows = {row["title"]: row for row in response.json()["results"]}
    assert "closed" in rows["resolved P1 0"]["allowed_transitions"]  # published review
    assert "closed" not in rows["resolved P1 1"]["allowed_transitions"]  # draft review
    # token and user, the page count, the page, its people, services and owning teams
    with django_assert_max_num_queries(7):
        api.get("/api/v1/incidents/")


def test_the_incident_api_reads_its_page_as_values_with_one_query_per_kind_of_name(grow, clients, time_machine):
    """The API's rows are values (`incident_rows`), not models: the page joins only its one-to-one tables (severity,
    review, alert group), and all five roles' usernames come from one query for the whole page."""
    time_machine.move_to(T0, tick=False)
    api, _page = clients
    grow(2)
    api.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as ctx:
        rows = api.get("/api/v1/incidents/?open=").json()["results"]
    staffed = next(row for row in rows if row["title"] == "open 1")
    assert staffed["communications_lead"] == staffed["operations_lead"] == staffed["scribe"] == "rami"
    assert staffed["commander"] is None
    assert staffed["reporter"]
    reads = [query["sql"] for query in ctx.captured_queries]
    page = next(sql for sql in reads if sql.startswith('SELECT "incidents_incident"."id"') and " LIMIT " in sql)
    assert page.count(" JOIN ") == 3
    assert "operations_alertrule" not in page  # the owning team is read apart, for the page's ids only
    count = next(sql for sql in reads if sql.startswith("SELECT COUNT(*)") and "incidents_incident" in sql)
    assert " JOIN " not in count  # the page's read, not the filtered list, joins
    assert len([sql for sql in reads if 'FROM "accounts_user"' in sql and " IN (" in sql]) == 1


def test_the_incident_list_query_joins_few_tables(grow):
    """PostgreSQL plans a join of n tables in time growing steeply with n: joining all nine (incident, severity,
    five people, review, alert group) cost 7 ms of planning per list at 100k incidents, against 1.3 ms for six. The
    roles most incidents leave empty are fetched apart."""
    grow(1)
    with CaptureQueriesContext(connection) as ctx:
        rows = list(incident_list()[:50])
    main = next(query["sql"] for query in ctx.captured_queries if 'FROM "incidents_incident"' in query["sql"])
    assert main.count(" JOIN ") <= 5
    staffed = next(row for row in rows if row.title == "open 0")
    assert staffed.communications_lead.username == staffed.scribe.username == "rami"  # fetched with the list


def test_the_incidents_page_reads_only_what_its_table_shows(grow, clients, time_machine):
    """Severity, commander and services: not the reporter, review, alert group or other roles the API's rows carry."""
    time_machine.move_to(T0, tick=False)
    _api, page = clients
    grow(2)
    with CaptureQueriesContext(connection) as ctx:
        response = page.get("/incidents/?open=")  # every row
    assert response.status_code == 200
    assert "open 1" in response.text
    assert "resolved P1 1" in response.text
    main = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "incidents_incident"."id"'))
    assert main.count(" JOIN ") == 2  # severity and commander
    # values, not models: not the columns the table does not show, nor whole users and severities
    unread = ("impact_summary", "escalation_snapshot", '"accounts_user"."password"', '"incidents_severity"."name"')
    assert [column for column in unread if column in main] == []
    people = [q["sql"] for q in ctx.captured_queries if 'FROM "accounts_user"' in q["sql"] and " IN (" in q["sql"]]
    assert people == []  # the roles the table does not show stay unread
    services = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident_services"' in q["sql"]]
    assert len(services) == 1
    assert '"incidents_service"."slug"' not in services[0]  # only the names it shows


def test_filtering_by_status_or_severity_keeps_the_list_order_from_its_index(grow, clients, time_machine):
    """No DISTINCT over a plain-column filter: it would sort every matching row instead of reading the index."""
    time_machine.move_to(T0, tick=False)
    api, page = clients
    grow(1)
    for client, url in ((page, "/incidents/?status=closed&severity=P4"), (api, "/api/v1/incidents/?status=closed")):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        incident_reads = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
        assert incident_reads
        assert not [sql for sql in incident_reads if "DISTINCT" in sql]


def test_dashboard_reads_the_freeze_rules_once(clients, time_machine):
    time_machine.move_to(T0, tick=False)
    _api, page = clients
    with CaptureQueriesContext(connection) as ctx:
        page.get("/")
    freeze_reads = [q for q in ctx.captured_queries if 'FROM "maintenance_freezerule"' in q["sql"]]
    assert len(freeze_reads) == 1


def test_oncall_page_reads_the_overrides_once(clients, time_machine):
    time_machine.move_to(T0, tick=False)
    _api, page = clients
    with CaptureQueriesContext(connection) as ctx:
        page.get("/oncall/")
    override_reads = [q for q in ctx.captured_queries if 'FROM "oncall_override"' in q["sql"]]
    assert len(override_reads) == 1


def test_the_incident_page_reads_the_people_and_workloads_once(grow, clients):
    """Four people pickers (commander and three roles) share one read of the active users, and the Actions and
    Investigate cards one read of the workloads."""
    _api, page = clients
    grow(1)
    staffed = Incident.objects.get(title="open 0")
    with CaptureQueriesContext(connection) as ctx:
        response = page.get(f"/incidents/{staffed.pk}/")
    assert response.status_code == 200
    sql = [query["sql"] for query in ctx.captured_queries]
    assert sum(query.startswith('SELECT DISTINCT "accounts_user"') for query in sql) == 1
    assert sum(query.startswith('SELECT "cluster_workload"') for query in sql) == 1
    pickers = response.content.decode()
    assert pickers.count('<option value="rami" selected>') == 3  # each role picker shows its holder
    assert pickers.count('<option value="">nobody</option>') == 3


def test_the_incident_page_reads_its_people_once_and_no_status_updates(grow, clients):
    """A role that is set is read when the page names its holder; the status updates, which the page does not
    list, are not read."""
    _api, page = clients
    grow(1)
    staffed = Incident.objects.get(title="open 0")
    unstaffed = Incident.objects.get(title="closed 0")
    reads = {}
    for incident in (staffed, unstaffed):
        with CaptureQueriesContext(connection) as ctx:
            response = page.get(f"/incidents/{incident.pk}/")
        assert response.status_code == 200
        sql = [query["sql"] for query in ctx.captured_queries]
        assert not [query for query in sql if '"incidents_statusupdate"' in query]
        reads[incident.title] = sum(query.startswith('SELECT "accounts_user"') for query in sql)
        roles = response.content.decode().split('id="incident-roles"')
        assert (len(roles) == 2) == (incident is staffed)
    assert "communications lead rami · operations lead rami · scribe rami</p>" in roles_of(staffed, page)
    assert reads["open 0"] - reads["closed 0"] == 3  # the three roles' holders


def test_the_incident_page_reads_the_escalation_steps_when_it_shows_them(grow, clients):
    """Only an incident with escalation levels has the Escalation card."""
    _api, page = clients
    grow(1)
    incident = Incident.objects.get(title="open 0")

    def page_and_reads() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ctx:
            html = page.get(f"/incidents/{incident.pk}/").content.decode()
        return html, sum('FROM "incidents_escalationstep"' in query["sql"] for query in ctx.captured_queries)

    html, reads = page_and_reads()
    assert ("<h2>Escalation" in html, reads) == (True, 1)
    Incident.objects.filter(pk=incident.pk).update(escalation_snapshot={})
    html, reads = page_and_reads()
    assert ("<h2>Escalation" in html, reads) == (False, 0)


def roles_of(incident: Incident, page: Client) -> str:
    html = page.get(f"/incidents/{incident.pk}/").content.decode()
    return html[html.index('id="incident-roles"') :]


def test_the_incident_page_reads_no_empty_runs_looks_procedures_or_changes(grow, clients, commander, api):
    """Whether an incident has cluster actions, looks, procedure runs and deployments since a day before its
    detection is asked in its own read: a card with none costs no read of its own. A row makes its card read."""
    _api, page = clients
    grow(1)
    incident = Incident.objects.get(title="open 0")
    tables = ("cluster_actionrun", "cluster_look", "operations_procedurerun", "operations_deployment")

    def card_reads() -> tuple[dict[str, int], str]:
        with CaptureQueriesContext(connection) as ctx:
            response = page.get(f"/incidents/{incident.pk}/")
        assert response.status_code == 200
        sql = [query["sql"] for query in ctx.captured_queries]
        return {
            table: sum(query.startswith(f'SELECT "{table}".') for query in sql) for table in tables
        }, response.content.decode()

    def deploy(at) -> None:
        Deployment.objects.create(service=api, environment=Environment.PRODUCTION, version="v9.9.9", commit="abc1234",
                                  who="ci-bot", deployed_by=commander, recorded_by=commander,
                                  started_at=at)  # fmt: skip

    deploy(incident.detected_at - timedelta(hours=25))  # before what Recent changes looks at
    reads, html = card_reads()
    assert reads == dict.fromkeys(tables, 0)
    assert "None run for this incident." in html
    assert "No deployments to these services since a day before detection." in html
    procedure_run_start(procedure=Procedure.objects.get(slug="emergency-maintenance"), kind="incident",
                        incident=incident, actor=commander)  # fmt: skip
    deploy(incident.detected_at - timedelta(hours=23))
    reads, html = card_reads()
    assert reads == {"cluster_actionrun": 0, "cluster_look": 0, "operations_procedurerun": 1,
                     "operations_deployment": 1}  # fmt: skip
    assert "None run for this incident." not in html
    assert "API v9.9.9</a> to production" in html


def test_the_incident_pages_read_is_built_once_and_each_caller_gets_its_own(declare):
    """Building the read's joins, prefetches and questions cost more than compiling it: it is built once and cloned."""
    first = declare("P3", title="one")
    read, other = incident_detail(), incident_detail()
    assert read.query.annotations["has_looks"] is other.query.annotations["has_looks"]
    assert [incident.title for incident in read] == ["one"]
    declare("P2", title="two")
    assert other._result_cache is None  # not the evaluated one
    assert sorted(incident.title for incident in other) == ["one", "two"]
    assert read.get(pk=first.pk).has_looks is False


def test_the_incident_pages_cards_read_what_they_show_of_its_runs_looks_procedures_and_changes(
    grow, clients, commander, api
):
    """The Actions, Investigate, Procedures and Recent changes cards: each a read of its own rows, without the
    incident again or the tables the full lists join (PostgreSQL plans every join), and no read per row."""
    _api, page = clients
    grow(1)
    incident = Incident.objects.get(title="open 0")
    target = Target.objects.create(name="cache", slug="cache", kind=Target.Kind.REDIS, url="redis://127.0.0.1/13",
                                   environment=Environment.PRODUCTION)  # fmt: skip
    procedure = Procedure.objects.get(slug="emergency-maintenance")

    def add_one_of_each() -> None:
        ActionRun.objects.create(kind=ActionKind.REDIS_FLUSH, target=target, environment=Environment.PRODUCTION,
                                 reason="stale", requested_by=commander, incident=incident, command="FLUSHDB",
                                 status=ActionRun.Status.FAILED)  # fmt: skip
        Look.objects.create(kind=LookKind.REDIS_INFO, target=target, incident=incident, requested_by=commander,
                            command="INFO", summary="used_memory 1M", created_at=T0)  # fmt: skip
        procedure_run_start(procedure=procedure, kind="incident", incident=incident, actor=commander)
        Deployment.objects.create(service=api, environment=Environment.PRODUCTION, version="v9.9.9", commit="abc1234",
                                  who="ci-bot", deployed_by=commander, recorded_by=commander,
                                  started_at=incident.detected_at)  # fmt: skip

    add_one_of_each()
    one = queries(page, f"/incidents/{incident.pk}/")
    add_one_of_each()
    add_one_of_each()
    drop_cached_answers()
    with CaptureQueriesContext(connection) as ctx:
        response = page.get(f"/incidents/{incident.pk}/")
    assert len(ctx.captured_queries) == one
    text = response.content.decode()
    run = ActionRun.objects.filter(incident=incident).latest("pk")
    assert f">{run.reference}</a> {run.get_kind_display()}" in text
    assert text.count("used_memory 1M") == 3
    assert text.count(f">{procedure.name}</a> running, started") == 3
    assert text.count(f"API v9.9.9</a> to production {incident.detected_at:%m-%d %H:%M} by ci-bot") == 3
    tables = ("cluster_actionrun", "cluster_look", "operations_procedurerun", "operations_deployment")
    reads = {table: next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f'SELECT "{table}".'))
             for table in tables}  # fmt: skip
    assert {table: '"incidents_incident"' in sql for table, sql in reads.items()} == dict.fromkeys(reads, False)
    assert " JOIN " not in reads["cluster_actionrun"]
    assert '"cluster_target"."url"' not in reads["cluster_look"]  # the target's name only, not its secret URL
    assert reads["operations_procedurerun"].count(" JOIN ") == 1  # its procedure's name
    assert reads["operations_deployment"].count(" JOIN ") == 1  # its service's name
