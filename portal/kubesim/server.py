"""The simulator's HTTP face: the API server's paths, query parameters, content types, watch streams and `Status`
errors, served by the standard library on a local port."""

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from portal.kubesim.cluster import RESOURCES, ApiError, Cluster, Obj
from portal.kubesim.patching import PATCH_TYPES

logger = logging.getLogger(__name__)

# Clearly not a real cluster: anything that reads the version sees the simulator's name.
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0+portal-simulator",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "none (Python simulator)",
    "compiler": "portal-simulator",
    "platform": "simulated",
}
# Only a simulator's: it keeps clients honest about sending their kubeconfig's credentials.
TOKEN = "portal-simulator"  # noqa: S105
# Without timeoutSeconds a real watch lasts 30-60 minutes; the simulator takes the upper bound.
DEFAULT_WATCH_SECONDS = 3600
_PATH = re.compile(
    r"^/(?P<api>api/v1|apis/apps/v1)(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<subresource>[a-z]+))?)?$"
)
_API_OF = {"deployments": "apis/apps/v1", "replicasets": "apis/apps/v1", "pods": "api/v1", "nodes": "api/v1"}
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


Answer = tuple[int, Obj] | Iterator[Obj]


class Api:
    """Routes a request to the cluster: (status, JSON body), or watch events to stream."""

    def __init__(self, cluster: Cluster, *, user: str = USER):
        self.cluster = cluster
        self.user = user
        # (verb, resource) pairs RBAC refuses, e.g. ("patch", "deployments/scale"): see `Simulator.deny`.
        self.denied: set[tuple[str, str]] = set()

    def handle(self, request: Request) -> Answer:
        if request.path in ("/version", "/version/"):
            self._allow(request, "GET")
            return 200, VERSION
        found = _PATH.match(request.path)
        if not found or found["plural"] not in RESOURCES or _API_OF[found["plural"]] != found["api"]:
            raise ApiError(404, "the server could not find the requested resource")
        plural, namespace, name, subresource = found["plural"], found["namespace"], found["name"], found["subresource"]
        if (plural == "nodes" and namespace is not None) or (plural != "nodes" and name and namespace is None):
            raise ApiError(404, "the server could not find the requested resource")
        self._authorize(request, plural, namespace, name, subresource)
        if name is None:
            self._allow(request, "GET")
            return self._list(request, plural, namespace)
        if subresource is None:
            return self._object(request, plural, namespace or "", name)
        if (plural, subresource) == ("deployments", "scale"):
            return self._scale(request, namespace or "", name)
        if (plural, subresource) == ("pods", "eviction"):
            self._allow(request, "POST")
            return 201, self.cluster.evict(namespace or "", name, request.json_object())
        raise ApiError(404, "the server could not find the requested resource")

    def _authorize(
        self, request: Request, plural: str, namespace: str | None, name: str | None, subresource: str | None
    ) -> None:
        """RBAC's refusal, worded as the API server words it, for the (verb, resource) pairs in `denied`."""
        if request.method == "GET" and name is None:
            verb = "watch" if request.query.get("watch") in ("true", "1") else "list"
        else:
            verb = _VERBS.get(request.method, request.method.lower())
        resource = f"{plural}/{subresource}" if subresource else plural
        if (verb, resource) not in self.denied:
            return
        group = RESOURCES[plural].group
        subject = f'{RESOURCES[plural].qualified} "{name}"' if name else RESOURCES[plural].qualified
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

    def _list(self, request: Request, plural: str, namespace: str | None) -> Answer:
        labels, fields = request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
        if request.query.get("watch") in ("true", "1"):
            seconds = request.number("timeoutSeconds")
            return self.cluster.watch(
                plural,
                namespace=namespace,
                label_selector=labels,
                field_selector=fields,
                resource_version=request.query.get("resourceVersion"),
                timeout_seconds=DEFAULT_WATCH_SECONDS if seconds is None else seconds,
            )
        return 200, self.cluster.list_objects(
            plural,
            namespace=namespace,
            label_selector=labels,
            field_selector=fields,
            limit=request.number("limit"),
            continue_token=request.query.get("continue"),
        )

    def _object(self, request: Request, plural: str, namespace: str, name: str) -> Answer:
        cluster = self.cluster
        if request.method == "GET":
            return 200, cluster.get(plural, namespace, name)
        if plural == "deployments" and request.method == "PATCH":
            patch = request.json()
            return 200, cluster.patch_deployment(
                namespace, name, request.patch_type(), patch, dry_run=request.dry_run()
            )
        if plural == "deployments" and request.method == "PUT":
            return 200, cluster.replace_deployment(namespace, name, request.json_object(), dry_run=request.dry_run())
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: "Simulator"):
        self.simulator = simulator
        super().__init__(address, _Handler)


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
        )
        simulator = self.server.simulator
        try:
            simulator.authorize(self.headers.get("Authorization"))
            answer = simulator.api.handle(request)
        except ApiError as exc:
            answer = exc.code, exc.status()
        simulator.run_interleaved(request)
        if isinstance(answer, tuple):
            self._send_json(*answer)
        else:
            self._stream(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _send_json(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: Iterator[Obj]) -> None:
        """Newline-delimited watch events in HTTP chunks, ending when the watch times out."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped watching before the timeout.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's signature
        logger.debug("%s %s", self.address_string(), format % args)


class Simulator:
    """The simulated API server on a local port: a context manager in tests, or run by `manage.py kube_simulator`.

    `tick` runs the controllers every so many seconds in the background, so terminating pods finish and deadlines
    pass on their own, as in a live cluster; tests leave it off and call `cluster.step()` themselves.
    """

    def __init__(
        self,
        cluster: Cluster | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = TOKEN,
        tick: float | None = None,
    ):
        self.cluster = cluster or Cluster()
        self.api = Api(self.cluster)
        self.token = token
        self._tick = tick
        self._server = _Server((host, port), self)
        self._stopping = threading.Event()
        self._interleaved: list[tuple[str, str, Callable[[], object]]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

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
        "nodes", "pods/eviction") with RBAC's 403, as for a service account without that permission."""
        self.api.denied.add((verb, resource))

    def authorize(self, header: str | None) -> None:
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
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": USER, "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": USER}}],
            "current-context": CONTEXT,
        }
        header = "# A SIMULATED cluster (portal/kubesim), not a real Kubernetes API server.\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False))
        return path
