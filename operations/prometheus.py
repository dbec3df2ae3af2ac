"""Prometheus' HTTP query API: the one place the portal reads metrics from. Plain values out, one error type."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

# Prometheus refuses a range query of more than 11,000 points; stay under it.
MAX_POINTS = 10_000


class PrometheusError(Exception):
    """The server could not be reached, or refused or could not evaluate the query."""


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float


def query_range(*, base_url: str, query: str, start: datetime, end: datetime, step: int, timeout: float) -> list[Point]:
    """Evaluate `query` at `start`, `start + step`, ... up to `end` (GET /api/v1/query_range).

    The query must give one series; steps where it has no value, or a value that is not a number (a ratio with no
    traffic is NaN), are left out.
    """
    if (end - start).total_seconds() / step >= MAX_POINTS:
        raise ValueError(f"{start}..{end} in steps of {step}s is more than {MAX_POINTS} points; split the range")
    params = {"query": query, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}", "step": str(step)}
    try:
        response = requests.get(f"{base_url.rstrip('/')}/api/v1/query_range", params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise PrometheusError(f"Prometheus at {base_url} is unreachable: {exc}") from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise PrometheusError(f"Prometheus answered {response.status_code} without JSON") from exc
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus refused the query ({body.get('errorType', response.status_code)}): "
                              f"{body.get('error', 'no reason given')}")  # fmt: skip
    data = body.get("data") or {}
    series = data.get("result") or []
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"expected a range vector, got {data.get('resultType')!r}")
    if len(series) > 1:
        raise PrometheusError(f"the query gives {len(series)} series; aggregate it to one, e.g. with sum(...)")
    points = []
    for timestamp, text in series[0]["values"] if series else []:
        value = float(text)
        if math.isfinite(value):
            points.append(Point(at=datetime.fromtimestamp(float(timestamp), tz=UTC), value=value))
    return points
