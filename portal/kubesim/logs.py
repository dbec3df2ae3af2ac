"""Container logs for `kubectl logs`: plausible lines, the same every time for the same container run.

A run (one start of one container, named by its containerID) logs three startup lines when it starts, then a line
about every 15 seconds of the cluster's time: requests for an API or web container, jobs for a worker, a heartbeat
for anything else. A run that ended (`lastState.terminated`, what `--previous` reads) ends with the line saying why.
The kubelet's errors are worded as the kubelet words them.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal.kubesim.cluster import ApiError, Obj

INTERVAL = 15
_STARTUP_SECONDS = (0, 0, 1)
_FIRST_PERIODIC = 5
_API_PATHS = (
    "/api/v1/products",
    "/api/v1/products/{n}",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/orders/{n}",
    "/api/v1/search?q=shoes",
    "/api/health",
)
_WEB_PATHS = ("/", "/products/{n}", "/category/shoes", "/cart", "/checkout", "/static/app.{n}.js")
_JOBS = ("orders.export", "emails.send", "inventory.sync", "payments.reconcile", "search.reindex")


def _number(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Run:
    """One run of a container: from `started` until `ended` (None while it runs)."""

    container: str
    image: str
    container_id: str
    started: datetime
    ended: datetime | None = None
    reason: str = ""
    exit_code: int = 0

    def _periodic(self, index: int) -> datetime:
        # Up to 14 s of jitter inside each 15 s slot keeps the lines in order.
        jitter = _number(self.container_id, "jitter", index) % INTERVAL
        return self.started + timedelta(seconds=_FIRST_PERIODIC + index * INTERVAL + jitter)

    def _count(self, until: datetime) -> int:
        """How many lines the run has logged by `until`, not counting a final line."""
        elapsed = (until - self.started).total_seconds()
        if elapsed < 0:
            return 0
        startup = sum(1 for offset in _STARTUP_SECONDS if offset <= elapsed)
        periodic = max(0, int((elapsed - _FIRST_PERIODIC) // INTERVAL) + 1)
        if periodic and self._periodic(periodic - 1) > until:
            periodic -= 1
        return startup + periodic

    def lines(self, now: datetime) -> list[tuple[datetime, str]]:
        """Every line so far (until `ended` for a finished run, with the line saying how it ended)."""
        until = self.ended or now
        lines = [self.line(index) for index in range(self._count(until))]
        if self.ended is not None:
            lines.append((self.ended, self._last_words()))
        return lines

    def line(self, index: int) -> tuple[datetime, str]:
        if index < len(_STARTUP_SECONDS):
            at = self.started + timedelta(seconds=_STARTUP_SECONDS[index])
            startup = (
                f"INFO  starting {self.container} ({self.image}) on a SIMULATED node",
                f"INFO  listening on :{3000 if 'broxiva' in self.container else 8080}",
                "INFO  ready",
            )
            return at, startup[index]
        periodic = index - len(_STARTUP_SECONDS)
        return self._periodic(periodic), self._message(periodic)

    def _message(self, index: int) -> str:
        number = _number(self.container_id, index)
        millis = 3 + number % 250
        if "worker" in self.container:
            job = _JOBS[number % len(_JOBS)]
            return f"INFO  job {job} id={number % 100000} done in {millis * 4}ms"
        if "api" in self.container or "web" in self.container:
            paths = _API_PATHS if "api" in self.container else _WEB_PATHS
            path = paths[number // 7 % len(paths)].format(n=number % 9000 + 1000)
            method = "POST" if path.endswith(("/cart", "/checkout")) else "GET"
            status = 500 if number % 61 == 0 else 404 if number % 23 == 0 else 200
            level = "ERROR" if status == 500 else "WARN " if status == 404 else "INFO "
            return f"{level} {method} {path} {status} {millis}ms"
        return f"INFO  heartbeat ok ({index + 1} since start)"

    def _last_words(self) -> str:
        if self.reason == "OOMKilled":
            return "FATAL out of memory: heap limit reached, the kernel killed the process (exit code 137)"
        return f"ERROR exiting: {self.reason or 'Error'} (exit code {self.exit_code})"


def run_of(pod: Obj, container: str | None, *, previous: bool) -> Run:
    """The container run whose log is asked for: the current one, or with `previous` the one that ended before."""
    meta, spec = pod["metadata"], pod["spec"]
    names = [c["name"] for c in spec.get("containers", [])]
    if container is None:
        if len(names) != 1:
            choices = " ".join(names)
            raise ApiError(
                400, f"a container name must be specified for pod {meta['name']}, choose one of: [{choices}]"
            )
        container = names[0]
    if container not in names:
        raise ApiError(400, f"container {container} is not valid for pod {meta['name']}")
    image = next(c["image"] for c in spec["containers"] if c["name"] == container)
    statuses = pod.get("status", {}).get("containerStatuses") or []
    status = next((s for s in statuses if s["name"] == container), None)
    if previous:
        terminated = (status or {}).get("lastState", {}).get("terminated")
        if not terminated:
            raise ApiError(400, f'previous terminated container "{container}" in pod "{meta["name"]}" not found')
        return Run(
            container,
            image,
            terminated.get("containerID", ""),
            _parse(terminated["startedAt"]),
            _parse(terminated["finishedAt"]),
            terminated.get("reason", ""),
            terminated.get("exitCode", 0),
        )
    running = (status or {}).get("state", {}).get("running")
    waiting = (status or {}).get("state", {}).get("waiting")
    if running is None and waiting and (status or {}).get("lastState", {}).get("terminated"):
        # Crash-looping: the kubelet serves the attempt that just ended.
        return run_of(pod, container, previous=True)
    if status is None or running is None:
        raise ApiError(400, f'container "{container}" in pod "{meta["name"]}" is waiting to start: ContainerCreating')
    return Run(container, image, status["containerID"], _parse(running["startedAt"]))


def render(lines: list[tuple[datetime, str]], *, timestamps: bool) -> str:
    """Lines as the kubelet sends them, with `timestamps` prefixed as RFC 3339 with nanoseconds."""
    if timestamps:
        return "".join(f"{at.strftime('%Y-%m-%dT%H:%M:%S')}.000000000Z {text}\n" for at, text in lines)
    return "".join(f"{text}\n" for _, text in lines)


def select(
    lines: list[tuple[datetime, str]], *, tail: int | None, since: datetime | None
) -> list[tuple[datetime, str]]:
    """`sinceSeconds`/`sinceTime`, then `tailLines` (a negative one means all)."""
    if since is not None:
        lines = [line for line in lines if line[0] >= since]
    if tail is not None and tail >= 0:
        lines = lines[len(lines) - tail :] if tail else []
    return lines
