"""Real servers on loopback for tests: SMTP (aiosmtpd) and a small HTTP server with canned routes."""

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message


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
def http_server(routes: dict[tuple[str, str], tuple[int, object]]) -> Iterator[HttpServer]:
    """Serve `routes` {(method, path): (status, json_body)} on 127.0.0.1 and record every request."""
    recorded: list[RecordedRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            recorded.append(RecordedRequest(self.command, self.path, dict(self.headers), body))
            status, payload = routes.get((self.command, path), (404, {"message": "not found"}))
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


class _Collector(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[object]


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
        yield SmtpServer(host="127.0.0.1", port=port, messages=handler.messages)
    finally:
        controller.stop()
