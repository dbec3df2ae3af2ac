"""The seeds' runbook commands, run by the real kubectl on this machine against the simulated demo cluster, with the
kubeconfig the simulator writes, unchanged.

The runbooks name two namespaces (`broxiva-production` and `broxiva`); the demo cluster has the first, so the second
runbook's commands run there. `kubectl exec` and `port-forward` are not simulated. Integration tests: under
PORTAL_REQUIRE_SERVICES=1 a missing kubectl fails them; otherwise they are skipped, saying why. The cluster's clock is
a ManualClock, so ages, log lines and metrics are the same on every run, whatever the day.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.kubesim import Cluster, ManualClock, Simulator
from portal.kubesim.seed import seed_demo

KUBECTL = shutil.which("kubectl")
REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        KUBECTL is None and not REQUIRE_SERVICES,
        reason="needs kubectl on the PATH (Debian's kubernetes-client, or the Google Cloud SDK's)",
    ),
]
NS = "broxiva-production"
# Controllers run this often in the background, so rollouts progress and evicted pods go while kubectl waits.
TICK = 0.1


@dataclass
class Demo:
    cluster: Cluster
    clock: ManualClock
    simulator: Simulator
    kubeconfig: Path
    home: Path

    def command(self, *args: str) -> list[str]:
        assert KUBECTL is not None, "kubectl is not on the PATH: install Debian's kubernetes-client"
        return [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.home / "cache"), *args]

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "HOME": str(self.home)}

    def run(self, line: str, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """`line` as written in a runbook ("kubectl get pods -n ..."), with the demo's kubeconfig."""
        args = line.split()
        assert args[0] == "kubectl"
        result = subprocess.run(
            self.command(*args[1:]), env=self.env(), capture_output=True, text=True, timeout=120, check=False
        )
        if ok:
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        return result

    def out(self, line: str) -> str:
        return self.run(line).stdout

    def table(self, line: str) -> list[list[str]]:
        """The printed table, each line split on the runs of spaces between columns."""
        return [re.split(r"\s{2,}", row.strip()) for row in self.out(line).splitlines() if row.strip()]

    def pods(self, selector: str) -> list[dict]:
        return self.cluster.list_objects("pods", namespace=NS, label_selector=selector)["items"]


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    """The demo cluster `make run` serves, ten minutes after it started."""
    clock = ManualClock()
    cluster = Cluster(clock=clock)
    seed_demo(cluster)
    clock.advance(600)
    with Simulator(cluster, tick=TICK) as simulator:
        kubeconfig = simulator.write_kubeconfig(tmp_path / "kubeconfig-sim.yaml")
        yield Demo(cluster, clock, simulator, kubeconfig, tmp_path)


def test_kubectl_talks_tls_to_the_simulator_with_the_kubeconfig_it_wrote(demo):
    version = json.loads(demo.out("kubectl version -o json"))

    assert version["serverVersion"]["gitVersion"] == "v1.31.0+portal-simulator"
    assert demo.out("kubectl get --raw /healthz") == "ok"
    assert "certificate-authority-data" in demo.kubeconfig.read_text()


def test_get_pods_deployments_nodes_services_and_events(demo):
    restarted = next(p for p in demo.pods("app=broxiva-api") if p["status"]["containerStatuses"][0]["restartCount"])
    pods = demo.table(f"kubectl get pods -n {NS}")
    deployment = demo.table(f"kubectl get deployment broxiva-api -n {NS}")
    nodes = demo.table("kubectl get nodes")
    services = demo.table(f"kubectl get svc -n {NS}")
    events = demo.table(f"kubectl get events -n {NS}")

    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 1 + 3 + 2 + 2
    # One worker pod of the demo crash-loops, as kubectl shows it.
    assert sorted(tuple(row[1:3]) for row in pods[1:]) == [("0/1", "CrashLoopBackOff")] + [("1/1", "Running")] * 6
    assert {row[0]: row[3:] for row in pods[1:]}[restarted["metadata"]["name"]] == ["1 (10m ago)", "10m"]
    assert deployment == [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["broxiva-api", "3/3", "3", "3", "10m"]]
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1:] == [[f"broxiva-node-{n}", "Ready", "<none>", "10m", "v1.31.0+portal-simulator"] for n in (1, 2, 3)]
    assert services[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert [[row[0], row[1], row[3], row[4]] for row in services[1:]] == [
        ["broxiva-api", "ClusterIP", "<none>", "80/TCP"],
        ["broxiva-web", "ClusterIP", "<none>", "80/TCP"],
    ]
    assert events[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert ["10m", "Normal", "ScalingReplicaSet", "deployment/broxiva-api"] in [row[:4] for row in events]


def test_describe_deployment_shows_its_replica_sets_and_events(demo):
    described = demo.out(f"kubectl describe deployment broxiva-api -n {NS}")

    assert re.search(r"^Name:\s+broxiva-api$", described, re.MULTILINE)
    assert re.search(
        r"^Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable$", described, re.M
    )
    assert re.search(r"^NewReplicaSet:\s+broxiva-api-\w+ \(3/3 replicas created\)$", described, re.MULTILINE)
    # kubectl works the ages out on its own clock, not the simulator's: they are left out.
    assert re.search(r"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set", described)


def test_logs_by_label_tail_timestamps_and_the_previous_run(demo):
    tail = demo.out(f"kubectl logs -n {NS} -l app=broxiva-api --tail=100").splitlines()
    stamped = demo.out("kubectl logs -n broxiva-production -l app=broxiva-api --tail=200 --timestamps").splitlines()
    default_tail = demo.out(f"kubectl logs -n {NS} -l app=broxiva-api").splitlines()
    restarted = next(p for p in demo.pods("app=broxiva-api") if p["status"]["containerStatuses"][0]["restartCount"])
    previous = demo.out(f"kubectl logs {restarted['metadata']['name']} -n {NS} --previous").splitlines()

    assert tail.count("INFO  starting broxiva-api (registry.broxiva.com/broxiva-api:2.4.1) on a SIMULATED node") == 3
    assert 3 * (3 + 39) <= len(tail) <= 3 * (3 + 40), "three pods, 10 minutes: 3 startup lines, one every 15 s"
    assert len(stamped) == len(tail)
    assert all(re.fullmatch(r"2026-01-01T00:\d\d:\d\d\.000000000Z \S.*", line) for line in stamped)
    # kubectl keeps the pods' requests in a map: their order varies from run to run.
    assert sorted(line.split(" ", 1)[1] for line in stamped) == sorted(tail)
    assert len(default_tail) == 3 * 10, "with a selector, kubectl asks for the last 10 lines of each"
    assert previous[-1] == "FATAL out of memory: heap limit reached, the kernel killed the process (exit code 137)"


def test_logs_follow_streams_until_the_pods_go(demo):
    follow = subprocess.Popen(
        demo.command("logs", "-n", NS, "-l", "app=broxiva-web", "-f", "--tail=1"),
        env=demo.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = [follow.stdout.readline() for _ in range(2)]
        demo.clock.advance(60)
        later = [follow.stdout.readline() for _ in range(2)]
        for pod in demo.pods("app=broxiva-web"):
            demo.cluster.delete_pod(NS, pod["metadata"]["name"], {"gracePeriodSeconds": 0})
        rest, errors = follow.communicate(timeout=30)
    finally:
        follow.kill()

    request = re.compile(r"(INFO |WARN |ERROR) \S+ \S+ \d{3} \d+ms")
    assert all(request.fullmatch(line) for line in "".join(first + later).splitlines() + rest.splitlines())
    assert len(set(first + later)) == 4, "a minute later, new lines came"
    assert follow.returncode == 0, errors


def test_top_pods_and_nodes(demo):
    pods = demo.table(f"kubectl top pods -n {NS}")
    nodes = demo.table("kubectl top nodes")

    assert pods[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert len(pods) == 1 + 7
    assert all(re.fullmatch(r"\d+m", row[1]) and re.fullmatch(r"\d+Mi", row[2]) for row in pods[1:])
    assert nodes[0][:2] == ["NAME", "CPU(cores)"]
    assert [row[0] for row in nodes[1:]] == ["broxiva-node-1", "broxiva-node-2", "broxiva-node-3"]
    assert all(re.fullmatch(r"\d+m", row[1]) and re.fullmatch(r"\d+%", row[2]) for row in nodes[1:])


def test_scale_and_rollout_status(demo):
    scaled = demo.out(f"kubectl scale deployment/broxiva-api --replicas=5 -n {NS}")
    status = demo.out(f"kubectl rollout status deployment/broxiva-api -n {NS} --timeout=60s")
    worker = demo.out("kubectl scale deployment/broxiva-worker -n broxiva-production --replicas=5")

    assert scaled == "deployment.apps/broxiva-api scaled\n"
    assert status.splitlines()[-1] == 'deployment "broxiva-api" successfully rolled out'
    assert worker == "deployment.apps/broxiva-worker scaled\n"
    assert demo.table(f"kubectl get deployment broxiva-api -n {NS}")[1][1] == "5/5"


def history(demo: Demo, name: str = "broxiva-api") -> list[list[str]]:
    printed = demo.table(f"kubectl rollout history deployment/{name} -n {NS}")
    assert printed[:2] == [[f"deployment.apps/{name}"], ["REVISION", "CHANGE-CAUSE"]]
    return printed[2:]


def test_rollout_history_undo_to_a_revision_restart_and_undo(demo):
    before = history(demo)
    to_two = demo.out(f"kubectl rollout undo deployment/broxiva-api -n {NS} --to-revision=2")
    demo.run(f"kubectl rollout status deployment/broxiva-api -n {NS} --timeout=60s")
    after_undo = history(demo)
    restarted = demo.out(f"kubectl rollout restart deployment/broxiva-api -n {NS}")
    demo.run(f"kubectl rollout status deployment/broxiva-api -n {NS} --timeout=60s")
    undone = demo.out(f"kubectl rollout undo deployment/broxiva-api -n {NS}")
    demo.run(f"kubectl rollout status deployment/broxiva-api -n {NS} --timeout=60s")
    web = demo.out(f"kubectl rollout undo deployment/broxiva-web -n {NS}")

    assert before == [
        ["1", "release 2.3.0"], ["2", "release 2.4.0: checkout v2"], ["3", "hotfix 2.4.1: payment retries"],
    ]  # fmt: skip
    assert to_two == "deployment.apps/broxiva-api rolled back\n"
    assert after_undo == [
        ["1", "release 2.3.0"], ["3", "hotfix 2.4.1: payment retries"], ["4", "release 2.4.0: checkout v2"],
    ], "the revision 2 ReplicaSet is reused as 4, not copied"  # fmt: skip
    assert restarted == "deployment.apps/broxiva-api restarted\n"
    assert undone == "deployment.apps/broxiva-api rolled back\n"
    assert [row[0] for row in history(demo)] == ["1", "3", "5", "6"], "undoing the restart reuses revision 4's"
    assert len(demo.table(f"kubectl get rs -n {NS} -l app=broxiva-api")) == 1 + 4
    assert demo.table(f"kubectl get deployment broxiva-api -n {NS} -o wide")[1][6] == (
        "registry.broxiva.com/broxiva-api:2.4.0"
    )
    assert web == "deployment.apps/broxiva-web rolled back\n"
    assert [row[0] for row in history(demo, "broxiva-web")] == ["2", "3"]


def test_cordon_drain_and_uncordon(demo):
    node = "broxiva-node-1"
    cordoned = demo.out(f"kubectl cordon {node}")
    status = demo.table("kubectl get nodes")[1]
    refused = demo.run(f"kubectl drain {node} --delete-emptydir-data --timeout=60s", ok=False)
    drained = demo.run(f"kubectl drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=60s")
    left = demo.cluster.list_objects("pods", field_selector=f"spec.nodeName={node}")["items"]
    uncordoned = demo.out(f"kubectl uncordon {node}")

    assert refused.returncode == 1
    assert "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)" in refused.stderr
    assert cordoned == f"node/{node} cordoned\n"
    # "WARNING:" before kubectl 1.2x, "Warning:" since.
    assert (
        "warning: ignoring daemonset-managed pods: broxiva-monitoring/node-exporter-broxiva-node-1, "
        "kube-system/kube-proxy-broxiva-node-1"
    ) in drained.stderr.lower()
    assert re.search(r"^pod/broxiva-api-\w+-\w+ evicted$", drained.stdout, re.MULTILINE)
    # kubectl 1.20 (Debian's) ends with "node/NODE evicted", later ones with "drained".
    assert drained.stdout.splitlines()[-1] in (f"node/{node} drained", f"node/{node} evicted")
    assert {pod["metadata"]["name"] for pod in left} == {"node-exporter-broxiva-node-1", "kube-proxy-broxiva-node-1"}
    assert status[:2] == [node, "Ready,SchedulingDisabled"]
    assert uncordoned == f"node/{node} uncordoned\n"
    assert demo.table("kubectl get nodes")[1][:2] == [node, "Ready"]


def test_rbac_refusals_are_printed_as_forbidden(demo):
    demo.simulator.deny("list", "deployments")
    demo.simulator.deny("patch", "deployments/scale")

    listed = demo.run(f"kubectl get deployments -n {NS}", ok=False)
    scaled = demo.run(f"kubectl scale deployment/broxiva-api --replicas=5 -n {NS}", ok=False)

    assert listed.returncode == 1
    assert listed.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps is forbidden: User "portal-simulator" cannot list resource '
        f'"deployments" in API group "apps" in the namespace "{NS}"'
    )
    assert scaled.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps "broxiva-api" is forbidden: User "portal-simulator" cannot '
        f'patch resource "deployments/scale" in API group "apps" in the namespace "{NS}"'
    )
