"""Looking from the incident: pods, events, logs (tail, timestamps, previous, filter; a deadline and a size cap), top
pods and nodes and rollout status, fetched by the worker from the simulator through the real client. Each look goes
on the incident's timeline, never into the audit log; Responders may look anywhere, Viewers may not."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from incidents.models import Incident, Service, Severity, TimelineEvent
from incidents.services import incident_declare
from portal.accounts.roles import Role
from portal.cluster.models import Look, Workload
from portal.cluster.services import look_fetch, look_request, looks_sweep
from portal.cluster.tasks import fetch_look
from portal.errors import ApplicationError, ForbiddenError
from tests.cluster.conftest import PROD_NS

Status = Look.Status


@pytest.fixture
def outage(people) -> Incident:
    return incident_declare(title="API down", severity=Severity.objects.get(code="P1"), reporter=people.commander)


@pytest.fixture
def crashed(shop, clock) -> str:
    """The first production web pod, restarted once after running out of memory, a minute of logs later."""
    pod = shop.list_objects("pods", namespace=PROD_NS, label_selector="app=web")["items"][0]["metadata"]["name"]
    clock.advance(120)
    shop.restart_container(PROD_NS, pod, reason="OOMKilled", exit_code=137)
    clock.advance(60)
    return pod


def look(user, target, kind, *, incident=None, **parameters) -> Look:
    """Request the look and fetch it as the worker does."""
    requested = look_request(requester=user, target=target, kind=kind, parameters=parameters, incident=incident)
    fetch_look(requested.pk)
    requested.refresh_from_db()
    return requested


def test_pods_with_status_restarts_node_and_age(crashed, k8s, people, outage):
    found = look(people.responder, k8s, "pods", namespace=PROD_NS, selector="app=web", incident=outage)

    assert found.status == Status.DONE, found.error
    assert found.columns == ["Name", "Ready", "Status", "Restarts", "Node", "Created"]
    by_name = {row[0]: row for row in found.rows}
    assert len(by_name) == 2
    assert by_name[crashed][2:4] == ["Running", 1]
    assert all(row[4].startswith("node-") for row in found.rows)
    assert found.summary == "2 pods, all running"
    assert found.command == "kubectl -n shop get pods -l app=web -o wide"
    event = outage.timeline.get(kind=TimelineEvent.Kind.LOOK)
    assert event.message == "rami looked at pods of shop -l app=web: 2 pods, all running"
    assert event.actor == people.responder


def test_a_look_is_on_the_timeline_and_not_in_the_audit_log(shop, k8s, people, outage):
    entries = LogEntry.objects.count()

    look(people.responder, k8s, "events", namespace=PROD_NS, name="web", incident=outage)

    assert LogEntry.objects.count() == entries
    assert outage.timeline.filter(kind=TimelineEvent.Kind.LOOK).count() == 1


def test_events_about_a_deployment(shop, k8s, people):
    found = look(people.responder, k8s, "events", namespace=PROD_NS, name="web")

    assert found.status == Status.DONE, found.error
    assert found.rows, "scaling and pod starts leave events"
    assert all(row[3].split("/", 1)[1].startswith("web") for row in found.rows)


class TestLogs:
    def test_tail_and_timestamps_of_every_pod_of_a_selector(self, crashed, k8s, people, outage):
        found = look(
            people.responder, k8s, "logs", namespace=PROD_NS, selector="app=web", tail=3, timestamps=True,
            incident=outage,
        )  # fmt: skip

        assert found.status == Status.DONE, found.error
        lines = found.text.splitlines()
        assert len(lines) == 6, "three lines of each of the two pods"
        assert all(line.startswith("[pod/web-") for line in lines)
        assert all(line.split(" ")[1][:4].isdigit() and "T" in line.split(" ")[1] for line in lines), "timestamps"
        assert found.summary == "6 lines from 2 pods"
        assert found.command == "kubectl -n shop logs -l app=web --tail=3 --timestamps"
        message = outage.timeline.get(kind=TimelineEvent.Kind.LOOK).message
        assert message == "rami looked at logs of shop -l app=web: 6 lines from 2 pods"

    def test_the_previous_container_says_how_it_ended(self, crashed, k8s, people):
        found = look(people.responder, k8s, "logs", namespace=PROD_NS, pod=crashed, previous=True, tail=1)

        assert found.status == Status.DONE, found.error
        assert "OOMKilled" in found.text or "137" in found.text, found.text
        assert "--previous" in found.command

    def test_a_pod_without_a_previous_container_is_reported_not_fatal(self, crashed, shop, k8s, people):
        found = look(people.responder, k8s, "logs", namespace=PROD_NS, selector="app=web", previous=True)

        assert found.status == Status.DONE
        assert "1 pods refused" in found.summary
        assert "error: previous terminated container" in found.text

    def test_filter_keeps_matching_lines(self, crashed, k8s, people):
        everything = look(people.responder, k8s, "logs", namespace=PROD_NS, pod=crashed, tail=50)
        word = everything.text.splitlines()[-1].split()[-1]

        found = look(people.responder, k8s, "logs", namespace=PROD_NS, pod=crashed, tail=50, filter=word)

        kept = found.text.splitlines()
        assert kept
        assert all(word.lower() in line.lower() for line in kept)
        assert len(kept) == sum(word.lower() in line.lower() for line in everything.text.splitlines())
        assert "| grep -F" in found.command

    def test_the_size_cap_cuts_the_text_short_and_says_so(self, crashed, k8s, people, settings):
        settings.LOOK_MAX_LOG_BYTES = 200

        found = look(people.responder, k8s, "logs", namespace=PROD_NS, selector="app=web", tail=100)

        assert found.truncated
        assert len(found.text.encode()) <= 200 + 2 * len("[pod/web-xxxxx-xxxxx] ") * 10
        assert found.summary.endswith("(cut short)")

    def test_a_passed_deadline_keeps_what_was_fetched(self, crashed, k8s, people, settings):
        settings.LOOK_DEADLINE_SECONDS = 0

        found = look(people.responder, k8s, "logs", namespace=PROD_NS, selector="app=web")

        assert found.status == Status.DONE
        assert found.truncated
        assert "deadline passed" in found.error


def test_top_pods_and_nodes(shop, k8s, people):
    pods = look(people.responder, k8s, "top_pods", namespace=PROD_NS, selector="app=web")
    nodes = look(people.responder, k8s, "top_nodes")

    assert pods.status == nodes.status == Status.DONE, (pods.error, nodes.error)
    assert len(pods.rows) == 2
    assert all(row[1].endswith("m") and row[2].endswith("Mi") for row in pods.rows)
    assert [row[0] for row in nodes.rows] == ["node-1", "node-2", "node-3"]
    assert all(row[2].endswith("%") and row[4].endswith("%") for row in nodes.rows)
    assert nodes.command == "kubectl top nodes"


def test_rollout_status_does_not_wait(shop, k8s, people):
    found = look(people.responder, k8s, "rollout_status", namespace=PROD_NS, deployment="web")

    assert found.status == Status.DONE
    assert found.summary == 'deployment "web" successfully rolled out'
    assert found.rows[0][0] == 3


def test_an_unknown_deployment_fails_the_look_with_the_api_message(shop, k8s, people, outage):
    found = look(people.responder, k8s, "rollout_status", namespace=PROD_NS, deployment="nope", incident=outage)

    assert found.status == Status.FAILED
    assert "not found" in found.error
    assert "failed:" in outage.timeline.get(kind=TimelineEvent.Kind.LOOK).message


class TestRules:
    def test_a_viewer_may_not_look(self, shop, k8s, people):
        with pytest.raises(ForbiddenError):
            look_request(requester=people.viewer, target=k8s, kind="pods", parameters={"namespace": PROD_NS})

    @pytest.mark.parametrize(
        ("kind", "parameters", "field"),
        [
            ("logs", {"namespace": PROD_NS}, "pod"),
            ("logs", {"namespace": PROD_NS, "pod": "web", "tail": 99999}, "tail"),
            ("pods", {"namespace": "Bad NS"}, "namespace"),
            ("pods", {"namespace": PROD_NS, "selector": "app=web;rm -rf"}, "selector"),
            ("redis_info", {}, "target"),
            ("nope", {}, "kind"),
        ],
    )
    def test_bad_parameters_name_the_field(self, k8s, people, kind, parameters, field):
        with pytest.raises(ApplicationError) as raised:
            look_request(requester=people.responder, target=k8s, kind=kind, parameters=parameters)
        assert raised.value.field == field

    def test_a_redelivered_message_fetches_nothing_twice(self, shop, k8s, people, outage):
        found = look(people.responder, k8s, "pods", namespace=PROD_NS, incident=outage)
        assert look_fetch(look_id=found.pk) is None
        assert outage.timeline.filter(kind=TimelineEvent.Kind.LOOK).count() == 1

    def test_the_sweeper_ends_a_look_no_worker_picked_up(self, shop, k8s, people, settings):
        queued = look_request(requester=people.responder, target=k8s, kind="pods", parameters={"namespace": PROD_NS})
        later = queued.created_at + timedelta(seconds=settings.LOOK_START_DEADLINE_SECONDS)

        assert looks_sweep(now=later) == 1
        queued.refresh_from_db()
        assert (queued.status, queued.error) == (Status.FAILED, "No worker picked it up in time.")


def test_the_pods_of_a_deployment_by_its_own_selector(crashed, k8s, people, outage):
    found = look(people.responder, k8s, "logs", namespace=PROD_NS, deployment="web", tail=2, incident=outage)

    assert found.status == Status.DONE, found.error
    assert found.summary == "4 lines from 2 pods"
    assert found.command == "kubectl -n shop logs -l app=web --tail=2 --timestamps"
    message = outage.timeline.get(kind=TimelineEvent.Kind.LOOK).message
    assert message == "rami looked at logs of shop web: 4 lines from 2 pods"


class TestIncidentPage:
    @pytest.fixture
    def page(self, shop, k8s, outage):
        service = Service.objects.create(name="Web shop", slug="web-shop")
        outage.services.add(service)
        namespace = k8s.namespaces.get(name=PROD_NS)
        Workload.objects.create(service=service, target=k8s, namespace=namespace, deployment="web")
        return reverse("incident-detail", args=[outage.pk])

    def test_responders_get_the_investigate_card_and_viewers_do_not(self, page, client, people):
        client.force_login(people.responder)
        html = client.get(page).content.decode()
        assert 'id="incident-looks"' in html
        assert 'name="kind" value="top_pods"' in html
        client.force_login(people.viewer)
        assert 'id="incident-looks"' not in client.get(page).content.decode()

    def test_a_look_from_the_page_comes_back_polling_then_done(self, page, client, people, outage,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
        client.force_login(people.responder)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post(
                reverse("look-new"),
                {"target": "sim", "incident": outage.pk, "kind": "pods", "namespace": PROD_NS, "deployment": "web"},
                HTTP_HX_REQUEST="true",
            )
        assert response.status_code == 201
        assert len(callbacks) == 1, "handed to a worker when the transaction commits"
        queued = response.content.decode()
        assert 'hx-trigger="every 1s"' in queued
        assert "Waiting for a worker" in queued

        created = Look.objects.get()
        fetch_look(created.pk)
        done = client.get(reverse("look-detail", args=[created.pk]), HTTP_HX_REQUEST="true").content.decode()
        assert 'hx-trigger="every 1s"' not in done
        assert "2 pods, all running" in done
        assert "rami looked at pods of shop web: 2 pods, all running" in client.get(page).content.decode()

    def test_logs_form_unticked_boxes_mean_no(self, page, client, people, outage):
        client.force_login(people.responder)
        client.post(
            reverse("look-new"),
            {"target": "sim", "incident": outage.pk, "kind": "logs", "namespace": PROD_NS, "deployment": "web",
             "tail": "5", "timestamps": "off", "previous": "off"},
        )  # fmt: skip
        assert Look.objects.get().parameters == {
            "namespace": PROD_NS, "deployment": "web", "tail": 5, "timestamps": False, "previous": False,
        }  # fmt: skip

    def test_bad_input_is_a_400_naming_the_field_and_viewers_are_refused(self, page, client, people, outage):
        client.force_login(people.responder)
        response = client.post(
            reverse("look-new"), {"target": "sim", "kind": "logs", "namespace": PROD_NS}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 400
        assert "Name a pod" in response.content.decode()
        client.force_login(people.viewer)
        assert client.post(reverse("look-new"), {"target": "sim", "kind": "pods"}).status_code == 403


class TestApi:
    def test_request_then_read_a_look(self, shop, k8s, token_client, outage):
        client = token_client(Role.RESPONDER)
        response = client.post(
            reverse("api:look-list"),
            {"kind": "top_pods", "target": "sim", "namespace": PROD_NS, "selector": "app=web", "incident": outage.pk},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "queued"
        fetch_look(response.json()["id"])
        body = client.get(reverse("api:look-detail", args=[response.json()["id"]])).json()
        assert (body["status"], len(body["rows"]), body["columns"][0]) == ("done", 2, "Name")
        listed = client.get(reverse("api:look-list"), {"incident": outage.pk}).json()
        assert listed["count"] == 1

    def test_viewers_read_but_may_not_look(self, shop, k8s, token_client):
        client = token_client(Role.VIEWER)
        assert client.get(reverse("api:look-list")).status_code == 200
        response = client.post(reverse("api:look-list"), {"kind": "pods", "target": "sim", "namespace": PROD_NS})
        assert response.status_code == 403

    def test_bad_input_names_the_field(self, shop, k8s, token_client):
        response = token_client(Role.RESPONDER).post(
            reverse("api:look-list"), {"kind": "logs", "target": "sim", "namespace": PROD_NS, "tail": 0}, format="json"
        )
        assert response.status_code == 400
        assert "tail" in str(response.json())


class TestDemoCluster:
    """The demo cluster `make run` starts: one worker pod crash-loops, so `--previous` means something."""

    @pytest.fixture
    def demo(self, clock, settings, tmp_path, db):
        from portal.cluster.models import Namespace, Target
        from portal.kubesim import Cluster, Simulator
        from portal.kubesim.seed import seed_demo

        cluster = Cluster(clock=clock)
        seed_demo(cluster)
        target = Target.objects.create(name="Demo", slug="demo", kind=Target.Kind.KUBERNETES,
                                       environment="production")  # fmt: skip
        Namespace.objects.create(target=target, name="broxiva-production", environment="production")
        with Simulator(cluster) as running:
            settings.KUBECONFIG = str(running.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
            settings.KUBE_CONTEXT = None
            from portal import kube

            kube._api_client.cache_clear()
            yield cluster, target
            kube._api_client.cache_clear()

    def test_a_worker_pod_crash_loops_and_its_previous_run_says_how_it_ended(self, demo, clock, people):
        cluster, target = demo
        pods = look(people.responder, target, "pods", namespace="broxiva-production", deployment="broxiva-worker")
        crashing = [row for row in pods.rows if row[2] == "CrashLoopBackOff"]
        assert len(crashing) == 1, pods.rows
        name, ready, _, restarts = crashing[0][:4]
        assert ready == "0/1"
        assert pods.summary == "2 pods, 1 not running"

        previous = look(people.responder, target, "logs", namespace="broxiva-production", pod=name, previous=True)
        assert previous.text.splitlines()[-1].endswith("ERROR exiting: Error (exit code 1)")

        clock.advance(91)
        cluster.step()
        again = look(people.responder, target, "pods", namespace="broxiva-production", deployment="broxiva-worker")
        assert next(row for row in again.rows if row[0] == name)[3] == restarts + 1
        events = look(people.responder, target, "events", namespace="broxiva-production", name=name)
        assert any(row[1:3] == ["Warning", "BackOff"] for row in events.rows)

    def test_the_api_deployment_reads_the_seeds_secret(self, demo, people):
        from portal import kube

        with kube.using_context(None):
            assert kube.deployments_using_secret("broxiva-production", "broxiva-secrets") == [
                "broxiva-api", "broxiva-worker",
            ]  # fmt: skip
            assert kube.secret_keys("broxiva-production", "broxiva-secrets").keys == (
                "DATABASE_URL", "JWT_SECRET", "STRIPE_API_KEY",
            )  # fmt: skip


def test_the_list_of_looks_takes_the_same_queries_for_more_looks(shop, k8s, people, token_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = token_client(Role.VIEWER)
    look_request(requester=people.responder, target=k8s, kind="top_nodes", parameters={})
    client.get(reverse("api:look-list"))  # the token's first use writes once
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("api:look-list")).json()["count"] == 1
    for _ in range(9):
        look_request(requester=people.commander, target=k8s, kind="top_nodes", parameters={})
    with CaptureQueriesContext(connection) as ten:
        assert client.get(reverse("api:look-list")).json()["count"] == 10
    assert len(ten) == len(one)
