"""Real servers on loopback for tests: SMTP (aiosmtpd) and a small HTTP server with canned routes."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    url: str
    requests: list[RecordedRequest] = field(default_factory=list)


@contextmanager
def http_server(routes: dict[tuple[str, str], tuple[int, object]], *, delay: float = 0) -> Iterator[HttpServer]:
    """Serve `routes` {(method, path): (status, json_body)} on 127.0.0.1 and record every request.

    `delay` holds each answer back that many seconds (to make clients time out).
    """
    recorded: list[RecordedRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            recorded.append(RecordedRequest(self.command, self.path, dict(self.headers), body))
            status, payload = routes.get((self.command, path), (404, {"message": "not found"}))
            time.sleep(delay)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(url=f"http://127.0.0.1:{server.server_address[1]}", requests=recorded)
    finally:
        server.shutdown()
        server.server_close()


class _Collector:
    """An aiosmtpd handler keeping each message (parsed with the modern email policy) and its envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.sessions = 0

    async def handle_EHLO(self, server: object, session: Session, envelope: object, hostname: str, responses: list):
        self.sessions += 1  # one EHLO per SMTP connection
        session.host_name = hostname  # what aiosmtpd does itself when no hook is set
        return responses

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or b"", policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: _Collector

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    @property
    def sessions(self) -> int:
        return self.handler.sessions


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    handler = _Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(host="127.0.0.1", port=port, handler=handler)
    finally:
        controller.stop()
