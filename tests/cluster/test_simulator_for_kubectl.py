"""What kubectl reads from the simulator beyond the adapter's calls: discovery, `get`'s tables, DaemonSets, events,
logs, metrics and services, over HTTPS with the kubeconfig's CA and token, as kubectl sends them."""

import json
import os
import re
import stat
import threading
from collections.abc import Iterator

import pytest
import requests

from portal.kubesim import Cluster, ManualClock, Simulator
from portal.kubesim.patching import JSON_PATCH, MERGE_PATCH
from portal.kubesim.seed import add_daemonset, add_deployment, add_pod, add_service
from portal.kubesim.tables import human_duration, table_version
from portal.kubesim.tls import Certificates

NS = "shop"
REVISION = "deployment.kubernetes.io/revision"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


class Http:
    """Requests to the simulator with the CA and token its kubeconfig carries."""

    def __init__(self, simulator: Simulator, ca_file: str):
        self.url, self.ca_file = simulator.url, ca_file
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {simulator.token}"

    def get(
        self, path: str, *, accept: str = "application/json", stream: bool = False, **params: object
    ) -> requests.Response:
        # `verify` on each request: a session's is overridden by REQUESTS_CA_BUNDLE from the environment.
        return self.session.get(
            self.url + path, headers={"Accept": accept}, params=params, verify=self.ca_file, stream=stream, timeout=10
        )

    def json(self, path: str, *, accept: str = "application/json", **params: object) -> dict:
        response = self.get(path, accept=accept, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def http(simulator: Simulator, tmp_path) -> Iterator[Http]:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(simulator.certificates.ca)
    client = Http(simulator, str(ca_file))
    yield client
    client.session.close()


@pytest.fixture
def web(cluster):
    return add_deployment(cluster, NS, "web", images=["shop/web:1", "shop/web:2", "shop/web:3"], replicas=2)


def web_pods(cluster: Cluster) -> list[dict]:
    return cluster.list_objects("pods", namespace=NS, label_selector="app=web")["items"]


# -- TLS ------------------------------------------------------------------------------------------------------------


def test_certificates_are_kept_private_and_reused_until_a_host_is_not_covered(tmp_path):
    first = Certificates.load_or_create(tmp_path / "tls")

    assert Certificates.load_or_create(tmp_path / "tls") == first
    assert stat.S_IMODE(os.stat(tmp_path / "tls" / "server.key").st_mode) == 0o600
    assert first.covers(("127.0.0.1", "::1", "localhost"))
    other = Certificates.load_or_create(tmp_path / "tls", ("127.0.0.1", "kube.example.test"))
    assert other.ca != first.ca
    assert other.covers(("kube.example.test",))
    assert not first.covers(("kube.example.test",))


# -- discovery ------------------------------------------------------------------------------------------------------


def test_discovery_names_groups_resources_short_names_and_subresources(http):
    core = {r["name"]: r for r in http.json("/api/v1")["resources"]}
    apps = {r["name"]: r for r in http.json("/apis/apps/v1")["resources"]}
    groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in http.json("/apis")["groups"]}

    assert http.json("/api")["versions"] == ["v1"]
    assert groups == {"apps": "apps/v1", "policy": "policy/v1", "metrics.k8s.io": "metrics.k8s.io/v1beta1"}
    assert (core["pods"]["shortNames"], core["pods"]["namespaced"], core["pods"]["kind"]) == (["po"], True, "Pod")
    assert (core["nodes"]["shortNames"], core["nodes"]["namespaced"]) == (["no"], False)
    assert (core["services"]["shortNames"], core["events"]["shortNames"]) == (["svc"], ["ev"])
    assert {key: core["pods/eviction"][key] for key in ("group", "version", "kind", "verbs")} == {
        "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"],
    }  # fmt: skip
    assert core["pods/log"]["verbs"] == ["get"]
    assert {key: apps["deployments/scale"][key] for key in ("group", "version", "kind")} == {
        "group": "autoscaling", "version": "v1", "kind": "Scale",
    }  # fmt: skip
    assert (apps["deployments"]["shortNames"], apps["daemonsets"]["shortNames"]) == (["deploy"], ["ds"])
    assert "all" in apps["deployments"]["categories"]
    assert {r["kind"] for r in http.json("/apis/metrics.k8s.io/v1beta1")["resources"]} == {"PodMetrics", "NodeMetrics"}
    assert http.json("/apis/policy/v1")["resources"][0]["shortNames"] == ["pdb"]
    assert http.get("/apis/batch/v1").status_code == 404


def test_a_request_for_aggregated_discovery_gets_the_legacy_document_kubectl_falls_back_to(http):
    response = http.get("/apis", accept=AGGREGATED)

    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["kind"] == "APIGroupList"


# -- kubectl get's tables -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        # apimachinery's duration_test.go
        (1, "1s"), (70, "70s"), (190, "3m10s"), (70 * 60, "70m"), (47 * 3600, "47h"), (49 * 3600, "2d1h"),
        ((8 * 24 + 2) * 3600, "8d"), (367 * 24 * 3600, "367d"), ((365 * 2 + 1) * 24 * 3600, "2y1d"),
        ((365 * 8 + 10) * 24 * 3600, "8y"), (-1, "0s"), (-2, "<invalid>"), (5 * 60, "5m"), (3 * 3600 + 60, "3h1m"),
    ],
)  # fmt: skip
def test_ages_read_as_kubectl_prints_them(seconds, shown):
    assert human_duration(seconds) == shown


def test_table_version_follows_the_accept_header():
    assert table_version(TABLE) == "v1"
    assert table_version("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json") == "v1beta1"
    assert table_version("application/json") is None
    assert table_version("application/json;as=Table;v=v2;g=meta.k8s.io") is None


def columns(table: dict, *, wide: bool = False) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if wide or not c.get("priority")]


def rows(table: dict) -> dict[str, list]:
    return {row["cells"][0]: row["cells"] for row in table["rows"]}


def test_get_pods_answers_with_the_columns_kubectl_prints(http, cluster, clock: ManualClock, web):
    pod = web_pods(cluster)[0]["metadata"]["name"]
    clock.advance(30)
    cluster.restart_container(NS, pod, reason="OOMKilled", exit_code=137)
    clock.advance(200)

    table = http.json(f"/api/v1/namespaces/{NS}/pods", accept=TABLE, limit=500)

    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert columns(table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert columns(table, wide=True)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    name, ready, status, restarts, age, ip, node, nominated, gates = rows(table)[pod]
    assert (ready, status, restarts, age) == ("1/1", "Running", "1 (3m20s ago)", "3m50s")
    assert (ip[:7], node[:5], nominated, gates) == ("10.244.", "node-", "<none>", "<none>")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"]


def test_get_answers_tables_for_each_kind_and_one_object(http, cluster, web):
    cluster.patch_node("node-2", MERGE_PATCH, {"spec": {"unschedulable": True}})
    add_service(cluster, NS, "web", port=80, target_port=8080)
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")

    deployments = http.json(f"/apis/apps/v1/namespaces/{NS}/deployments/web", accept=TABLE)
    nodes = http.json("/api/v1/nodes", accept=TABLE)
    services = http.json(f"/api/v1/namespaces/{NS}/services", accept=TABLE)
    daemon_sets = http.json("/apis/apps/v1/daemonsets", accept=TABLE, includeObject="Object")
    replica_sets = http.json(f"/apis/apps/v1/namespaces/{NS}/replicasets", accept=TABLE, includeObject="None")

    assert columns(deployments) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert rows(deployments)["web"] == ["web", "2/2", 2, 2, "0s", "web", "shop/web:3", "app=web"]
    assert columns(nodes) == ["Name", "Status", "Roles", "Age", "Version"]
    assert rows(nodes)["node-2"][:5] == [
        "node-2",
        "Ready,SchedulingDisabled",
        "<none>",
        "0s",
        "v1.31.0+portal-simulator",
    ]
    assert columns(services) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert rows(services)["web"][1:6] == ["ClusterIP", "10.96.0.1", "<none>", "80/TCP", "0s"]
    assert columns(daemon_sets)[:7] == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
    ]
    assert rows(daemon_sets)["kube-proxy"][1:7] == [3, 3, 3, 3, 3, "<none>"]
    assert daemon_sets["rows"][0]["object"]["kind"] == "DaemonSet"
    assert columns(replica_sets) == ["Name", "Desired", "Current", "Ready", "Age"]
    assert sorted(row["cells"][1] for row in replica_sets["rows"]) == [0, 0, 2]
    assert "object" not in replica_sets["rows"][0]
    assert http.json("/api/v1/nodes")["kind"] == "NodeList", "without the Table Accept header, the list"


# -- DaemonSets, rollbacks, budgets, namespaces ---------------------------------------------------------------------


def test_a_daemon_set_runs_one_pod_per_node_even_cordoned_and_replaces_what_goes(http, cluster):
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")
    cluster.patch_node("node-1", MERGE_PATCH, {"spec": {"unschedulable": True}})
    cluster.add_node("node-4")
    cluster.delete_pod("kube-system", "kube-proxy-node-2", {"gracePeriodSeconds": 0})

    daemon_set = http.json("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    pods = cluster.list_objects("pods", namespace="kube-system")["items"]

    assert sorted(pod["spec"]["nodeName"] for pod in pods) == ["node-1", "node-2", "node-3", "node-4"]
    assert {pod["metadata"]["ownerReferences"][0]["uid"] for pod in pods} == {daemon_set["metadata"]["uid"]}
    assert daemon_set["status"]["desiredNumberScheduled"] == daemon_set["status"]["numberReady"] == 4


def test_rollout_undo_with_the_template_kubectl_writes_reuses_the_old_replica_set(http, cluster, web):
    """kubectl sends the ReplicaSet's template as its Go types print it: `creationTimestamp: null`, empty maps."""
    replica_sets = cluster.list_objects("replicasets", namespace=NS, label_selector="app=web")["items"]
    second = next(rs for rs in replica_sets if rs["metadata"]["annotations"][REVISION] == "2")
    template = json.loads(json.dumps(second["spec"]["template"]))
    template["metadata"]["labels"].pop("pod-template-hash")
    template["metadata"]["creationTimestamp"] = None
    template["spec"]["containers"][0]["resources"] = {}
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": second["metadata"]["annotations"]},
    ]

    cluster.patch_deployment(NS, "web", JSON_PATCH, patch)

    listed = http.json(f"/apis/apps/v1/namespaces/{NS}/replicasets", labelSelector="app=web")["items"]
    history = {
        int(rs["metadata"]["annotations"][REVISION]): rs["spec"]["template"]["spec"]["containers"][0]["image"]
        for rs in listed
    }
    assert history == {1: "shop/web:1", 3: "shop/web:3", 4: "shop/web:2"}, "undoing 3 to 2: 1, 3, 4"
    assert len(listed) == 3, "no duplicate ReplicaSet"


def test_disruption_budgets_and_namespaces_are_objects(http, cluster, web):
    cluster.add_budget(NS, "web", match_labels={"app": "web"}, min_available=1)

    budget = http.json(f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets/web")
    namespaces = [ns["metadata"]["name"] for ns in http.json("/api/v1/namespaces")["items"]]

    assert budget["status"] | {"conditions": None} == {
        "observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
        "expectedPods": 2, "conditions": None,
    }  # fmt: skip
    assert namespaces == [NS], "created with the first object in them"
    assert http.json(f"/api/v1/namespaces/{NS}")["status"]["phase"] == "Active"


# -- events ---------------------------------------------------------------------------------------------------------


def test_controllers_record_events_that_count_up_and_expire_after_an_hour(http, cluster, clock: ManualClock, web):
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 3}})
    pod = web_pods(cluster)[0]
    cluster.evict(NS, pod["metadata"]["name"], {"deleteOptions": {"gracePeriodSeconds": 0}})
    cluster.patch_node("node-1", MERGE_PATCH, {"spec": {"unschedulable": True}})

    uid = cluster.get("deployments", NS, "web")["metadata"]["uid"]
    about_web = http.json(
        f"/api/v1/namespaces/{NS}/events",
        fieldSelector=f"involvedObject.name=web,involvedObject.namespace={NS},involvedObject.kind=Deployment,"
        f"involvedObject.uid={uid}",
    )["items"]
    about_pod = http.json(
        f"/api/v1/namespaces/{NS}/events", fieldSelector=f"involvedObject.uid={pod['metadata']['uid']}"
    )
    node_events = http.json("/api/v1/namespaces/default/events", accept=TABLE)

    scaled = [e["message"] for e in about_web if e["reason"] == "ScalingReplicaSet"]
    assert re.fullmatch(r"Scaled up replica set web-[a-z0-9]{10} from 2 to 3", scaled[-1])
    assert [(e["reason"], e["source"]["component"]) for e in about_pod["items"]][-4:] == [
        ("Pulled", "kubelet"), ("Created", "kubelet"), ("Started", "kubelet"), ("Killing", "kubelet"),
    ]  # fmt: skip
    assert rows(node_events)["0s"][1:5] == ["Normal", "NodeNotSchedulable", "node/node-1", ""]
    cluster.patch_node("node-1", MERGE_PATCH, {"spec": {"unschedulable": None}})
    cluster.patch_node("node-1", MERGE_PATCH, {"spec": {"unschedulable": True}})
    (again,) = [
        e for e in cluster.list_objects("events", namespace="default")["items"] if e["reason"] == "NodeNotSchedulable"
    ]
    assert again["count"] == 2

    clock.advance(3601)
    cluster.step()
    assert cluster.list_objects("events")["items"] == []


# -- logs -----------------------------------------------------------------------------------------------------------


def test_logs_tail_timestamps_and_the_previous_run(http, cluster, clock: ManualClock, web):
    pod = web_pods(cluster)[0]["metadata"]["name"]
    path = f"/api/v1/namespaces/{NS}/pods/{pod}/log"
    clock.advance(65)
    cluster.restart_container(NS, pod, reason="OOMKilled", exit_code=137)
    clock.advance(40)

    everything = http.get(path).text.splitlines()
    tail = http.get(path, tailLines=2, timestamps="true").text.splitlines()
    previous = http.get(path, previous="true").text.splitlines()

    assert everything[0] == "INFO  starting web (shop/web:3) on a SIMULATED node"
    assert len(everything) == 3 + 3, "three startup lines, then one about every 15 s"
    assert tail == http.get(path, timestamps="true").text.splitlines()[-2:]
    assert re.fullmatch(r"2026-01-01T00:01:\d\d\.000000000Z (INFO |WARN |ERROR) .*", tail[0])
    assert len(previous) == 3 + 4 + 1
    assert previous[-1].startswith("FATAL out of memory")
    assert http.get(path, previous="true").text == http.get(path, previous="true").text, "the same every time"
    recent = http.get(path, sinceSeconds=20, timestamps="true").text.splitlines()
    assert set(recent) <= set(http.get(path, timestamps="true").text.splitlines())
    assert all(line >= "2026-01-01T00:01:25" for line in recent), "now is 00:01:45"


def test_log_errors_are_the_kubelets(http, cluster, web):
    pod = web_pods(cluster)[0]["metadata"]["name"]
    path = f"/api/v1/namespaces/{NS}/pods/{pod}/log"

    no_previous = http.get(path, previous="true")
    wrong = http.get(path, container="sidecar")
    cluster.hold_pods = True
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 3}})
    (waiting,) = [p for p in web_pods(cluster) if p["status"]["phase"] == "Pending"]

    assert (no_previous.status_code, no_previous.json()["message"]) == (
        400, f'previous terminated container "web" in pod "{pod}" not found',
    )  # fmt: skip
    assert wrong.json()["message"] == f"container sidecar is not valid for pod {pod}"
    pending = http.get(f"/api/v1/namespaces/{NS}/pods/{waiting['metadata']['name']}/log").json()["message"]
    assert pending.endswith("is waiting to start: ContainerCreating")


def test_a_followed_log_streams_new_lines_and_ends_when_the_pod_goes(http, cluster, clock: ManualClock, web):
    pod = web_pods(cluster)[0]["metadata"]["name"]
    response = http.get(f"/api/v1/namespaces/{NS}/pods/{pod}/log", follow="true", stream=True)
    lines = response.iter_lines(chunk_size=None, decode_unicode=True)

    first = [next(lines), next(lines)]
    clock.advance(20)
    later = [next(lines), next(lines)]
    threading.Timer(0.2, cluster.delete_pod, (NS, pod, {"gracePeriodSeconds": 0})).start()
    rest = list(lines)

    assert first == ["INFO  starting web (shop/web:3) on a SIMULATED node", "INFO  listening on :8080"]
    assert later[0] == "INFO  ready", "a second later"
    assert later[1].startswith(("INFO  GET", "INFO  POST", "WARN ", "ERROR")), "a request between 5 and 20 s"
    assert rest == [], "the stream ends with the pod"


# -- metrics and RBAC -----------------------------------------------------------------------------------------------


def test_metrics_for_top_pods_and_nodes(http, cluster, web):
    add_pod(cluster, "batch", "report", node="node-1")
    cluster.hold_pods = True
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 3}})

    pods = http.json(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods", labelSelector="app=web")
    nodes = http.json("/apis/metrics.k8s.io/v1beta1/nodes")
    node_1 = http.json("/apis/metrics.k8s.io/v1beta1/nodes/node-1")
    missing = http.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods/nope")

    assert (pods["kind"], len(pods["items"])) == ("PodMetricsList", 2), "a pod that does not run has no metrics"
    usage = pods["items"][0]["containers"][0]["usage"]
    assert re.fullmatch(r"\d+n", usage["cpu"])
    assert re.fullmatch(r"\d+Ki", usage["memory"])
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["node-1", "node-2", "node-3"]
    assert node_1["usage"] == nodes["items"][0]["usage"]
    assert int(node_1["usage"]["cpu"][:-1]) > 180_000_000, "the system's share and the pods'"
    assert (missing.status_code, missing.json()["message"]) == (
        404, f'podmetrics.metrics.k8s.io "{NS}/nope" not found'
    )  # fmt: skip


def test_rbac_refuses_logs_and_metrics_in_the_servers_words(http, simulator, cluster, web):
    pod = web_pods(cluster)[0]["metadata"]["name"]
    simulator.deny("get", "pods/log")
    simulator.deny("list", "pods.metrics.k8s.io")

    log = http.get(f"/api/v1/namespaces/{NS}/pods/{pod}/log")
    metrics = http.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods")

    assert (log.status_code, log.json()["message"]) == (
        403, f'pods "{pod}" is forbidden: User "portal-simulator" cannot get resource "pods/log" in API group "" '
        f'in the namespace "{NS}"',
    )  # fmt: skip
    assert metrics.json()["message"] == (
        'pods.metrics.k8s.io is forbidden: User "portal-simulator" cannot list resource "pods" in API group '
        f'"metrics.k8s.io" in the namespace "{NS}"'
    )
    assert http.get(f"/api/v1/namespaces/{NS}/pods").status_code == 200, "core pods are still listed"
