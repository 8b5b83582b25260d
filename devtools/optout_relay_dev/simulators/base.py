"""A threaded loopback HTTP server, and what every provider simulator shares on top of it.

``LoopbackHttpServer`` answers each request with a plain function. ``ProviderSimulator``
adds the rest: a lock for provider state, recorded calls, fixed latency and injected
faults. Nothing here logs: request lines hold phone numbers and headers hold API keys.

Every answer has one ``Date`` header, as every HTTP origin server sends (RFC 9110): a
simulator's comes from its ``wall_clock``. Neither provider's documentation mentions a
request id header, so the simulators send none (the relay's evidence then has no
``request_id``); a test that needs one answers through ``LoopbackHttpServer``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self, TypedDict, Unpack

from optout_relay_dev.lifecycle import Startable
from optout_relay_dev.simulators.faults import Fault, FaultInjector, FaultKind, FaultRates
from optout_relay_dev.simulators.webhooks import WebhookSender

_MAX_BODY_BYTES = 1 << 20
_MAX_LINE_BYTES = 65536
# How often the accept loop looks for a stop request: bounds how long stop() waits for it.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, document: object) -> Response:
        return cls(status, json.dumps(document).encode())

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), content_type="text/html; charset=utf-8")

    def with_header(self, name: str, value: str) -> Response:
        return replace(self, headers=(*self.headers, (name, value)))


# Answers one request; ``None`` closes the connection without any response.
Dispatch = Callable[[Request], Response | None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the relay's connection pool expects
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_DELETE(self) -> None:
        self._serve()

    do_GET = do_POST = do_PUT = do_PATCH = do_OPTIONS = do_DELETE

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds phone numbers."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._write(Response.json(400, {"error": "Malformed or oversized request body"}))
            return
        path, _, query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.dispatch(Request(self.command, path, query, headers, body))
        if response is None:
            self.close_connection = True
            return
        self._write(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = (self.headers.get("Content-Length") or "0").strip()
        if not length.isdigit() or int(length) > _MAX_BODY_BYTES:
            return None
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_LINE_BYTES)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(_MAX_LINE_BYTES) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields, ignored
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_MAX_LINE_BYTES)

    def _write(self, response: Response) -> None:
        self.send_response_only(response.status)
        self.send_header("Server", self.version_string())
        if not any(name.lower() == "date" for name, _ in response.headers):
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so none outlive stop().
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup of the host; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections, so they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timed-out call, a stopped test) is routine here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class LoopbackHttpServer(Startable):
    """A threaded HTTP/1.1 server on ``host``:``port`` (port 0: any free port).

    ``stop()`` ends every thread it started. Handlers that wait (latency, slow faults)
    wait on ``stopping`` rather than sleeping, so stopping is never held up by them.
    """

    def __init__(
        self,
        dispatch: Dispatch,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "loopback-http",
    ) -> None:
        self.dispatch = dispatch
        self.host = host
        self.port = port
        self.name = name
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._server.server_name, self._server.server_port

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> Self:
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError(f"{self.name} is already running")
            self.stopping.clear()
            server = _Server((self.host, self.port), self.dispatch)
            thread = threading.Thread(
                target=server.serve_forever, args=(_POLL_SECONDS,), name=f"{self.name}-accept"
            )
            thread.start()
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self.stopping.set()
            server.shutdown()
            server.close_connections()
            server.server_close()
            thread.join()
            self._server = self._thread = None


@dataclass(frozen=True)
class RecordedCall:
    """One request that reached a simulator."""

    method: str
    path: str
    status: int | None  # None: the connection was closed without an answer
    at: float  # the simulator's clock (time.monotonic by default) when the request arrived
    auth_accepted: bool | None  # None: not checked (a fault or an unknown route answered first)
    fault: FaultKind | None = None
    body: str = ""  # the request body (Trackly's names the number), undecodable bytes replaced


class SimulatorOptions(TypedDict, total=False):
    host: str
    port: int
    latency_seconds: float
    fault_rates: FaultRates
    seed: int | None
    faults_per_request: bool
    clock: Callable[[], float]
    wall_clock: Callable[[], datetime]
    webhook_time_scale: float


_SERVER_ERRORS = {
    500: ("An unexpected server error occurred.", "internal_error"),
    502: ("Bad gateway", "bad_gateway"),
    503: ("Service temporarily unavailable", "service_unavailable"),
    504: ("Gateway timeout", "gateway_timeout"),
}


class ProviderSimulator(ABC, Startable):
    """A provider's API on a loopback port, with inspectable state and injectable faults.

    Subclasses implement ``handle`` (the provider's behaviour, under ``self._lock``) and
    ``error_response`` (the provider's error body format), and what the local emulation
    and demos need from every provider alike (``simulators.registry``): a simulator that
    accepts ``local_credentials``, list references to use, and subscriptions.
    """

    name: ClassVar[str]  # the provider's name in the relay's registry
    # Waits before each retry of a webhook the callback did not take (provider docs).
    webhook_retry_delays: ClassVar[tuple[float, ...]] = ()
    rate_limit_message: ClassVar[str] = "Too many requests"
    # The secret the local emulation stores for an account of this provider: the JSON the
    # provider's contract reads credentials from, and that ``for_local`` accepts.
    local_credentials: ClassVar[Mapping[str, str]]

    @classmethod
    @abstractmethod
    def for_local(cls, **options: Unpack[SimulatorOptions]) -> Self:
        """A simulator that accepts ``local_credentials``."""

    @classmethod
    @abstractmethod
    def sample_list(cls, index: int) -> str | int:
        """A valid list reference (as an event carries it), a different one per ``index``."""

    @abstractmethod
    def add_list(self, list_value: str, /) -> None:
        """Make the list exist, with no one on it."""

    @abstractmethod
    def subscribe(self, list_value: str, phone_number: str, /) -> None:
        """Put ``phone_number`` (E.164) on the list, creating the list if needed."""

    @abstractmethod
    def is_subscribed(self, list_value: str, phone_number: str, /) -> bool:
        """Whether ``phone_number`` (E.164) is an active subscriber of the list."""

    @abstractmethod
    def load_state(self, document: Mapping[str, Any], /) -> None:
        """``{"lists": {list: [E.164 numbers]}}`` (and provider-specific keys)."""

    @abstractmethod
    def text_stop(self, list_value: Any, phone_number: str, /) -> bool:
        """The person replies STOP on the list: unsubscribed there, and the provider's
        unsubscribe webhook is sent (``webhooks``). False if not active on the list."""

    @abstractmethod
    def register_local_webhooks(
        self, receiver_url: str, secret: Mapping[str, str], lists: Iterable[Any], /
    ) -> None:
        """Point this provider's unsubscribe webhooks for ``lists`` at a webhook receiver
        (its base URL), authenticated with the receiver's ``secret`` values, as the
        operator would (``optout-relay webhooks show``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        fault_rates: FaultRates | None = None,
        seed: int | None = None,
        faults_per_request: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        webhook_time_scale: float = 1.0,
    ) -> None:
        """``faults_per_request``: random faults drawn per distinct request (see ``faults``).
        ``clock`` times rate limits; ``wall_clock`` (aware) dates answers and provider records.
        ``webhook_time_scale`` shrinks the webhook retry schedule (``simulators.webhooks``)."""
        if latency_seconds < 0:
            raise ValueError("latency_seconds must not be negative")
        self._lock = threading.RLock()
        self._calls: list[RecordedCall] = []
        self._clock = clock
        self._wall_clock = wall_clock
        self._arrivals = 0
        self._arrival_actions: dict[int, list[Callable[[], None]]] = {}
        self.latency_seconds = latency_seconds
        self.faults = FaultInjector(fault_rates, seed, per_request=faults_per_request)
        self.server = LoopbackHttpServer(self._dispatch, host, port, name=f"{self.name}-simulator")
        self.webhooks = WebhookSender(self.webhook_retry_delays, time_scale=webhook_time_scale)

    @abstractmethod
    def handle(self, request: Request) -> tuple[Response, bool | None]:
        """The provider's answer and whether the credentials were accepted (None: not checked)."""

    @abstractmethod
    def error_response(self, status: int, message: str, code: str) -> Response:
        """An error in this provider's body format."""

    def now(self) -> datetime:
        """The provider's wall clock: what its ``Date`` headers and records say."""
        return self._wall_clock()

    # Lifecycle
    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> Self:
        self.server.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        self.server.stop()

    # Faults and recorded calls
    def script(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next requests."""
        self.faults.script(*faults)

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    @property
    def arrivals(self) -> int:
        """Requests that have reached the simulator, answered or not yet."""
        with self._lock:
            return self._arrivals

    def on_arrival(self, nth: int, action: Callable[[], None]) -> None:
        """Run ``action`` once, on the ``nth`` request's thread when it arrives (counting
        from the start), before anything answers it: that request and every later one
        see what the action changed. Concurrent requests are not held up by it."""
        with self._lock:
            if nth <= self._arrivals:
                raise ValueError(f"request {nth} has already arrived")
            self._arrival_actions.setdefault(nth, []).append(action)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _record(
        self,
        request: Request,
        arrived: float,
        status: int | None,
        auth_accepted: bool | None,
        fault: FaultKind | None,
    ) -> None:
        body = request.body.decode("utf-8", "replace")
        call = RecordedCall(request.method, request.path, status, arrived, auth_accepted, fault, body)
        with self._lock:
            self._calls.append(call)

    def _dispatch(self, request: Request) -> Response | None:
        response = self._answer(request)
        if response is None:
            return None
        return response.with_header("Date", format_datetime(self.now().astimezone(UTC), usegmt=True))

    def _answer(self, request: Request) -> Response | None:
        arrived = self._clock()
        with self._lock:
            self._arrivals += 1
            actions = self._arrival_actions.pop(self._arrivals, [])
        for action in actions:
            action()
        stopping = self.server.stopping
        if self.latency_seconds and stopping.wait(self.latency_seconds):
            self._record(request, arrived, None, None, None)
            return None
        fault = self.faults.next_fault(_identity(request))
        kind = fault.kind if fault else None
        if fault is not None and fault.kind is not FaultKind.SLOW:
            response = self._fault_response(fault)
            status = response.status if response is not None else None
            self._record(request, arrived, status, None, kind)
            return response
        if fault is not None and stopping.wait(fault.seconds):
            self._record(request, arrived, None, None, kind)
            return None
        response, auth_accepted = self.handle(request)
        self._record(request, arrived, response.status, auth_accepted, kind)
        return response

    def _fault_response(self, fault: Fault) -> Response | None:
        if fault.kind is FaultKind.DROP:
            return None
        if fault.kind is FaultKind.RATE_LIMITED:
            response = self.error_response(429, self.rate_limit_message, "rate_limited")
            retry_after = fault.retry_after_header()
            return response.with_header("Retry-After", retry_after) if retry_after else response
        message, code = _SERVER_ERRORS.get(fault.status, ("Server error", "server_error"))
        return self.error_response(fault.status, message, code)


def _identity(request: Request) -> bytes:
    """What makes two requests the same one, for faults drawn per request."""
    return b"%s %s?%s\n%s" % (
        request.method.encode(),
        request.path.encode(),
        request.query.encode(),
        request.body,
    )
