"""JSON logs: one object per line, the request id and user on each, secrets masked."""

import io
import json
import logging

import pytest

from portal.accounts.roles import Role
from portal.core.logs import formatter


@pytest.fixture
def lines():
    """What the root logger writes, through the JSON formatter production uses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def request_lines(lines):
    return [line for line in lines() if line["logger"] == "portal.request"]


def test_secrets_are_masked(lines):
    log = logging.getLogger("portal.test")
    log.warning(
        "calling https://hooks.slack.com/services/T000/B000/XXXXSECRET with Authorization: Bearer abcdef123456 "
        "for postgres://portal:hunter2hunter2@db:5432/portal and /oncall/calendar/s3cr3tfeedtoken.ics?token=q1w2e3",
        extra={"routing_key": "R0UT1NGKEY", "kubeconfig": {"users": []}, "password": "pw", "attempt": 2},
    )
    log.error('client-key-data: LS0tLS1CRUdJTi and {"routing_key": "R0UT1NGKEY"}')
    try:
        raise RuntimeError("cannot reach redis://:r3dispass@cache:6379/0")
    except RuntimeError:
        log.exception("send failed")

    text = "\n".join(json.dumps(line) for line in lines())
    for secret in ["XXXXSECRET", "abcdef123456", "hunter2hunter2", "s3cr3tfeedtoken", "q1w2e3", "R0UT1NGKEY",
                   "LS0tLS1CRUdJTi", "r3dispass"]:  # fmt: skip
        assert secret not in text
    first = lines()[0]
    assert first["routing_key"] == first["kubeconfig"] == first["password"] == "****"
    assert first["attempt"] == 2
    assert "https://hooks.slack.com/****" in first["event"]
    assert "postgres://portal:****@db:5432/portal" in first["event"]
    assert "RuntimeError" in lines()[-1]["exception"]


def test_each_request_logs_one_line_with_its_id(client, db, lines):
    response = client.get("/api/health", HTTP_X_REQUEST_ID="edge-7f3a.1")

    assert response["X-Request-ID"] == "edge-7f3a.1"
    [line] = request_lines(lines)
    assert line["request_id"] == "edge-7f3a.1"
    assert (line["method"], line["path"], line["view"], line["status"]) == ("GET", "/api/health", "health", 200)
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_a_malformed_request_id_is_replaced(client, db, lines):
    response = client.get("/api/health", HTTP_X_REQUEST_ID="bad id\nwith newline")

    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert request_lines(lines)[0]["request_id"] == generated


def test_lines_name_the_user_of_the_request(client, make_user, token_client, lines):
    client.force_login(make_user(Role.VIEWER, username="vera"))
    client.get("/incidents/")
    api = token_client(Role.RESPONDER, username="rami")
    api.get("/api/v1/me/")  # a token: DRF authenticates inside the view

    assert [line.get("user") for line in request_lines(lines)] == ["vera", "rami"]


def test_context_does_not_leak_into_the_next_request(client, make_user, lines):
    client.force_login(make_user(Role.VIEWER, username="vera"))
    client.get("/incidents/")
    client.logout()
    client.get("/api/health")
    logging.getLogger("portal.test").info("after")

    assert "user" not in request_lines(lines)[-1]
    assert "request_id" not in lines()[-1]


def test_console_format_for_people():
    record = logging.LogRecord("portal.test", logging.INFO, __file__, 1, "password=%s", ("hunter2",), None)
    text = formatter("console").format(record)
    assert "hunter2" not in text
    assert not text.startswith("{")
