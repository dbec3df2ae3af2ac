"""The simulator's HTTP face: the API server's paths, discovery, content negotiation (JSON, or the Table `kubectl
get` prints), watch and log streams, RBAC refusals and `Status` errors, served over TLS by the standard library."""

import base64
import json
import logging
import re
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from portal.kubesim import discovery, logs
from portal.kubesim.cluster import GIT_VERSION, RESOURCES, ApiError, Cluster, Obj, Resource
from portal.kubesim.metrics import node_metrics, pod_metrics
from portal.kubesim.patching import PATCH_TYPES
from portal.kubesim.tables import table_version, to_table
from portal.kubesim.tls import LOOPBACK, Certificates

logger = logging.getLogger(__name__)

# Clearly not a real cluster: anything that reads the version sees the simulator's name.
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": GIT_VERSION,
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "none (Python simulator)",
    "compiler": "portal-simulator",
    "platform": "simulated",
}
# Only a simulator's: it keeps clients honest about sending their kubeconfig's credentials.
TOKEN = "portal-simulator"  # noqa: S105
# What a real API server answers without credentials (the system:public-info-viewer role).
PUBLIC_PATHS = frozenset({"/version", "/version/", "/healthz", "/livez", "/readyz"})
# Without timeoutSeconds a real watch lasts 30-60 minutes; the simulator takes the upper bound.
DEFAULT_WATCH_SECONDS = 3600
# How often a followed log looks for new lines.
LOG_POLL_SECONDS = 0.5
_PATH = re.compile(
    r"^/(?P<api>api/v1|apis/[a-z0-9.-]+/v[a-z0-9]+)(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<subresource>[a-z]+))?)?$"
)
_SERVED = {(resource.prefix, resource.plural): resource for resource in RESOURCES.values()}
_METRICS_GROUP = discovery.METRICS.split("/")[0]
_VERBS = {"GET": "get", "PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}
# The kubeconfig's user (as RBAC's refusals name it) and its one context, which demo targets name.
USER = "portal-simulator"
CONTEXT = "portal-simulator"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes
    accept: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from exc

    def json_object(self) -> Obj:
        # Like the API server, a body without a Content-Type is read as JSON (this client sends none on PUT/POST).
        if self.content_type not in ("", "application/json"):
            raise ApiError(415, f'the body of the request was in an unknown format "{self.content_type}"')
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    def patch_type(self) -> str:
        if self.content_type not in PATCH_TYPES:
            accepted = ", ".join(sorted(PATCH_TYPES))
            raise ApiError(415, f'the patch type "{self.content_type}" is not supported here; use one of {accepted}')
        return self.content_type

    def dry_run(self) -> bool:
        value = self.query.get("dryRun", "")
        if value not in ("", "All"):
            raise ApiError(400, f'dryRun: Unsupported value: "{value}": supported values: "All"')
        return value == "All"

    def number(self, name: str) -> int | None:
        value = self.query.get(name, "")
        if not value:
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise ApiError(400, f"{name} must be an integer, got {value!r}") from exc

    def flag(self, name: str) -> bool:
        return self.query.get(name) in ("true", "1")


@dataclass(frozen=True)
class Text:
    """A plain-text answer (health, container logs); `chunks` stream it in HTTP chunks as they come (`follow`)."""

    body: str = ""
    chunks: Iterator[str] | None = None


Answer = tuple[int, Obj] | Iterator[Obj] | Text


class Api:
    """Routes a request to the cluster: (status, JSON body), watch events or text to stream, or plain text."""

    def __init__(self, cluster: Cluster, *, user: str = USER, stopping: threading.Event | None = None):
        self.cluster = cluster
        self.user = user
        # (verb, resource) pairs RBAC refuses, e.g. ("patch", "deployments/scale"): see `Simulator.deny`.
        self.denied: set[tuple[str, str]] = set()
        # host:port, as `/api` reports it.
        self.address = ""
        self.stopping = stopping or threading.Event()

    def handle(self, request: Request) -> Answer:
        path = request.path
        if path in ("/version", "/version/"):
            self._allow(request, "GET")
            return 200, VERSION
        if path.rstrip("/") in ("/healthz", "/livez", "/readyz"):
            self._allow(request, "GET")
            return Text("ok")
        document = self._discovery(path.rstrip("/"))
        if document is not None:
            self._allow(request, "GET")
            return 200, document
        found = _PATH.match(path)
        if not found:
            raise ApiError(404, "the server could not find the requested resource")
        api, namespace, plural, name, subresource = (
            found["api"], found["namespace"], found["plural"], found["name"], found["subresource"]
        )  # fmt: skip
        if api == f"apis/{discovery.METRICS}":
            return self._metrics(request, plural, namespace, name, subresource)
        resource = _SERVED.get((api, plural))
        if resource is None or (namespace is not None and not resource.namespaced):
            raise ApiError(404, "the server could not find the requested resource")
        if resource.namespaced and name and namespace is None:
            raise ApiError(404, "the server could not find the requested resource")
        self._authorize(request, resource.plural, resource.group, namespace, name, subresource)
        if name is None:
            if plural == "secrets" and namespace is not None and request.method == "POST":
                body = request.json_object()
                body.setdefault("metadata", {}).setdefault("namespace", namespace)
                if body["metadata"]["namespace"] != namespace:
                    raise ApiError(400, "the namespace of the provided object does not match the namespace sent on "
                                        "the request")  # fmt: skip
                return 201, self.cluster.create_secret(body, dry_run=request.dry_run())
            self._allow(request, "GET")
            return self._list(request, resource, namespace)
        if subresource is None:
            return self._object(request, resource, namespace or "", name)
        if (plural, subresource) == ("deployments", "scale"):
            return self._scale(request, namespace or "", name)
        if (plural, subresource) == ("deployments", "status"):
            self._allow(request, "GET")
            return 200, self.cluster.get("deployments", namespace or "", name)
        if (plural, subresource) == ("pods", "eviction"):
            self._allow(request, "POST")
            return 201, self.cluster.evict(namespace or "", name, request.json_object())
        if (plural, subresource) == ("pods", "log"):
            self._allow(request, "GET")
            return self._log(request, namespace or "", name)
        raise ApiError(404, "the server could not find the requested resource")

    def _discovery(self, path: str) -> Obj | None:
        if path == "/api":
            return discovery.api_versions(self.address)
        if path == "/apis":
            return discovery.api_groups()
        if path == "/api/v1":
            return discovery.resource_list("v1")
        if path.startswith("/apis/") and path.count("/") == 3:
            return discovery.resource_list(path.removeprefix("/apis/"))
        return None

    def _authorize(
        self,
        request: Request,
        plural: str,
        group: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
    ) -> None:
        """RBAC's refusal, worded as the API server words it, for the (verb, resource) pairs in `denied`.

        A pair names the resource plainly ("pods", "deployments/scale") or with its group ("pods.metrics.k8s.io");
        metrics.k8s.io's pods and nodes only by the latter, so denying core pods leaves `kubectl top` alone.
        """
        if request.method == "GET" and name is None:
            verb = "watch" if request.flag("watch") else "list"
        else:
            verb = _VERBS.get(request.method, request.method.lower())
        resource = f"{plural}/{subresource}" if subresource else plural
        qualified = f"{plural}.{group}" if group else plural
        names = {f"{qualified}/{subresource}" if subresource else qualified}
        if group != _METRICS_GROUP:
            names.add(resource)
        if not any((verb, denied) in self.denied for denied in names):
            return
        subject = f'{qualified} "{name}"' if name else qualified
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{subject} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
            f'in API group "{group}" {scope}'
        )
        raise ApiError(403, message, details={"name": name or "", "group": group, "kind": plural})

    @staticmethod
    def _allow(request: Request, *methods: str) -> None:
        if request.method not in methods:
            raise ApiError(405, f"the server does not allow this method on the requested resource ({request.method})")

    def _table(self, request: Request, resource: Resource, objects: list[Obj], metadata: Obj) -> Obj | None:
        """`objects` as a Table if the client asked for one, as `kubectl get` does."""
        version = table_version(request.accept)
        if version is None:
            return None
        include = request.query.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise ApiError(400, f'includeObject: Unsupported value: "{include}"')
        now = self.cluster.clock()
        return to_table(resource, objects, now=now, metadata=metadata, include=include, version=version)

    def _list(self, request: Request, resource: Resource, namespace: str | None) -> Answer:
        labels, fields = request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
        if request.flag("watch"):
            seconds = request.number("timeoutSeconds")
            events = self.cluster.watch(
                resource.plural,
                namespace=namespace,
                label_selector=labels,
                field_selector=fields,
                resource_version=request.query.get("resourceVersion"),
                timeout_seconds=DEFAULT_WATCH_SECONDS if seconds is None else seconds,
            )
            if table_version(request.accept) is None:
                return events
            return self._table_events(request, resource, events)
        listed = self.cluster.list_objects(
            resource.plural,
            namespace=namespace,
            label_selector=labels,
            field_selector=fields,
            limit=request.number("limit"),
            continue_token=request.query.get("continue"),
        )
        return 200, self._table(request, resource, listed["items"], listed["metadata"]) or listed

    def _table_events(self, request: Request, resource: Resource, events: Iterator[Obj]) -> Iterator[Obj]:
        for event in events:
            obj = event["object"]
            metadata = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            yield {"type": event["type"], "object": self._table(request, resource, [obj], metadata)}

    def _object(self, request: Request, resource: Resource, namespace: str, name: str) -> Answer:
        cluster, plural = self.cluster, resource.plural
        if request.method == "GET":
            obj = cluster.get(plural, namespace, name)
            return 200, self._table(
                request, resource, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}
            ) or obj
        if plural == "deployments" and request.method == "PATCH":
            patch = request.json()
            return 200, cluster.patch_deployment(
                namespace, name, request.patch_type(), patch, dry_run=request.dry_run()
            )
        if plural == "deployments" and request.method == "PUT":
            return 200, cluster.replace_deployment(namespace, name, request.json_object(), dry_run=request.dry_run())
        if plural == "secrets" and request.method == "PATCH":
            return 200, cluster.patch_secret(
                namespace, name, request.patch_type(), request.json(), dry_run=request.dry_run()
            )
        if plural == "nodes" and request.method == "PATCH":
            return 200, cluster.patch_node(name, request.patch_type(), request.json(), dry_run=request.dry_run())
        if plural == "pods" and request.method == "DELETE":
            options = request.json_object() if request.body else {}
            grace = request.number("gracePeriodSeconds")
            if grace is not None:
                options["gracePeriodSeconds"] = grace
            return 200, cluster.delete_pod(namespace, name, options, dry_run=request.dry_run())
        raise ApiError(405, f"the server does not allow this method on the requested resource ({request.method})")

    def _scale(self, request: Request, namespace: str, name: str) -> Answer:
        self._allow(request, "GET", "PATCH", "PUT")
        if request.method == "GET":
            return 200, self.cluster.get_scale(namespace, name)
        if request.method == "PATCH":
            patch = request.json()
            return 200, self.cluster.patch_scale(
                namespace, name, request.patch_type(), patch, dry_run=request.dry_run()
            )
        return 200, self.cluster.replace_scale(namespace, name, request.json_object(), dry_run=request.dry_run())

    def _log(self, request: Request, namespace: str, name: str) -> Answer:
        """The kubelet's container logs: tailLines, timestamps, previous, sinceSeconds/sinceTime, limitBytes, follow."""
        pod = self.cluster.get("pods", namespace, name)
        previous = request.flag("previous")
        run = logs.run_of(pod, request.query.get("container") or None, previous=previous)
        now = self.cluster.clock()
        since: datetime | None = None
        seconds = request.number("sinceSeconds")
        if seconds is not None:
            since = now - timedelta(seconds=seconds)
        elif request.query.get("sinceTime"):
            try:
                since = datetime.fromisoformat(request.query["sinceTime"])
            except ValueError as exc:
                raise ApiError(400, f"sinceTime: invalid value {request.query['sinceTime']!r}") from exc
        everything = run.lines(now)
        chosen = logs.select(everything, tail=request.number("tailLines"), since=since)
        text = logs.render(chosen, timestamps=request.flag("timestamps"))
        limit = request.number("limitBytes")
        if limit is not None:
            text = text.encode()[:limit].decode(errors="ignore")
        if previous or not request.flag("follow"):
            return Text(text)
        return Text(chunks=self._follow_log(pod, run, text, len(everything), timestamps=request.flag("timestamps")))

    def _follow_log(self, pod: Obj, run: logs.Run, text: str, seen: int, *, timestamps: bool) -> Iterator[str]:
        """New lines as the cluster's time passes, until the pod goes away, its container restarts or the simulator
        stops (a client that hangs up ends it at the next write)."""
        if text:
            yield text
        meta = pod["metadata"]
        while not self.stopping.wait(LOG_POLL_SECONDS):
            try:
                current = self.cluster.get("pods", meta["namespace"], meta["name"])
                still = logs.run_of(current, run.container, previous=False)
            except ApiError:
                return
            if current["metadata"]["uid"] != meta["uid"] or still.container_id != run.container_id:
                return
            lines = run.lines(self.cluster.clock())
            if len(lines) > seen:
                yield logs.render(lines[seen:], timestamps=timestamps)
                seen = len(lines)

    def _metrics(
        self, request: Request, plural: str, namespace: str | None, name: str | None, subresource: str | None
    ) -> Answer:
        """metrics.k8s.io/v1beta1 pods and nodes, read-only and not watchable, as metrics-server serves them."""
        scoped = (plural == "pods" and not (name and namespace is None)) or (plural == "nodes" and namespace is None)
        if subresource or not scoped:
            raise ApiError(404, "the server could not find the requested resource")
        self._authorize(request, plural, _METRICS_GROUP, namespace, name, None)
        self._allow(request, "GET")
        if request.flag("watch"):
            raise ApiError(405, "the server does not allow this method on the requested resource (watch)")
        now = self.cluster.clock()
        if plural == "pods":
            if name is not None:
                found = self._get_or_none("pods", namespace or "", name)
                metrics = pod_metrics(found, now) if found else None
                if metrics is None:
                    raise ApiError(404, f'podmetrics.metrics.k8s.io "{namespace}/{name}" not found')
                return 200, metrics
            pods = self.cluster.list_objects(
                "pods",
                namespace=namespace,
                label_selector=request.query.get("labelSelector", ""),
                field_selector=request.query.get("fieldSelector", ""),
            )["items"]
            items = [metrics for pod in pods if (metrics := pod_metrics(pod, now)) is not None]
            return 200, {"kind": "PodMetricsList", "apiVersion": discovery.METRICS, "metadata": {}, "items": items}
        if name is not None:
            node = self._get_or_none("nodes", "", name)
            if node is None:
                raise ApiError(404, f'nodemetrics.metrics.k8s.io "{name}" not found')
            nodes = [node]
        else:
            nodes = self.cluster.list_objects("nodes", label_selector=request.query.get("labelSelector", ""))["items"]
        pods = self.cluster.list_objects("pods")["items"]
        items = []
        for node in nodes:
            on_node = [pod for pod in pods if pod["spec"].get("nodeName") == node["metadata"]["name"]]
            items.append(node_metrics(node, on_node, now))
        if name is not None:
            return 200, items[0]
        return 200, {"kind": "NodeMetricsList", "apiVersion": discovery.METRICS, "metadata": {}, "items": items}

    def _get_or_none(self, plural: str, namespace: str, name: str) -> Obj | None:
        try:
            return self.cluster.get(plural, namespace, name)
        except ApiError:
            return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: "Simulator", tls: ssl.SSLContext):
        self.simulator = simulator
        self.tls = tls
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake, in the connection's own thread so a slow client holds up no one else."""
        request.settimeout(10)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        with secure:
            secure.settimeout(None)
            super().finish_request(secure, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-stream, or without TLS's goodbye, is ordinary; anything else is the simulator's bug.
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
        else:
            logger.exception("serving %s failed", client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the client's connections alive and allows chunked watch streams; without Nagle's algorithm
    # the body does not wait for the client to acknowledge the headers.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query={key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()},
            content_type=(self.headers.get("Content-Type") or "").split(";")[0].strip(),
            body=self.rfile.read(length) if length else b"",
            accept=self.headers.get("Accept") or "",
        )
        simulator = self.server.simulator
        try:
            simulator.authorize(self.headers.get("Authorization"), request.path)
            answer = simulator.api.handle(request)
        except ApiError as exc:
            answer = exc.code, exc.status()
        simulator.run_interleaved(request)
        if isinstance(answer, tuple):
            self._send(answer[0], "application/json", json.dumps(answer[1]).encode())
        elif isinstance(answer, Text):
            if answer.chunks is None:
                self._send(200, "text/plain", answer.body.encode())
            else:
                self._stream("text/plain", (chunk.encode() for chunk in answer.chunks))
        else:
            self._stream("application/json", (json.dumps(event).encode() + b"\n" for event in answer))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _send(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, content_type: str, chunks: Iterator[bytes]) -> None:
        """HTTP chunks as they come (watch events, a followed log), ending when their source ends."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for data in chunks:
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            # The client stopped listening first.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's signature
        logger.debug("%s %s", self.address_string(), format % args)


class Simulator:
    """The simulated API server on a local port, over HTTPS with a CA of its own: a context manager in tests, or run
    by `manage.py kube_simulator`.

    `tick` runs the controllers every so many seconds in the background, so terminating pods finish and deadlines
    pass on their own, as in a live cluster; tests leave it off and call `cluster.step()` themselves. Without
    `certificates` a new CA and serving certificate are made for `host` and the loopback names.
    """

    def __init__(
        self,
        cluster: Cluster | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = TOKEN,
        tick: float | None = None,
        certificates: Certificates | None = None,
    ):
        self.cluster = cluster or Cluster()
        self._stopping = threading.Event()
        self.api = Api(self.cluster, stopping=self._stopping)
        self.token = token
        self.certificates = certificates or Certificates.create(hosts(host))
        self._tick = tick
        self._server = _Server((host, port), self, self.certificates.server_context())
        self.api.address = self.url.removeprefix("https://")
        self._interleaved: list[tuple[str, str, Callable[[], object]]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

    def start(self) -> "Simulator":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        if self._tick:
            threading.Thread(target=self._run_controllers, args=(self._tick,), daemon=True).start()
        return self

    def _run_controllers(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            self.cluster.step()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def deny(self, verb: str, resource: str) -> None:
        """Refuse `verb` (get, list, watch, patch, update, create, delete) on `resource` ("deployments/scale",
        "nodes", "pods/eviction", "pods/log", "pods.metrics.k8s.io") with RBAC's 403, as for a service account
        without that permission."""
        self.api.denied.add((verb, resource))

    def authorize(self, header: str | None, path: str) -> None:
        """The kubeconfig's bearer token, except on the paths a real API server shows anyone."""
        if header is None and path in PUBLIC_PATHS:
            return
        if header != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized")

    def interleave(self, method: str, path: str, action: Callable[[], object]) -> None:
        """Run `action` once, when `method path` is next served: after its answer is computed, before it is sent.

        That is another writer getting in between two requests of a client, e.g. a GET and the PUT that follows it.
        """
        with self._lock:
            self._interleaved.append((method, path, action))

    def run_interleaved(self, request: Request) -> None:
        with self._lock:
            due = [entry for entry in self._interleaved if entry[:2] == (request.method, request.path)]
            self._interleaved = [entry for entry in self._interleaved if entry not in due]
        for _, _, action in due:
            action()

    def write_kubeconfig(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        authority = base64.b64encode(self.certificates.ca).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url, "certificate-authority-data": authority}}],
            "users": [{"name": USER, "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": USER}}],
            "current-context": CONTEXT,
        }
        header = "# A SIMULATED cluster (portal/kubesim), not a real Kubernetes API server.\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False))
        return path


def hosts(host: str) -> tuple[str, ...]:
    """The names a serving certificate for `host` covers: it and the loopback names."""
    return tuple(dict.fromkeys((host, *LOOPBACK)))
