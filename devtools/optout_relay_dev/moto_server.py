"""moto's server mode, closer to AWS where the relay depends on it.

- **Atomic conditional writes.** moto's threaded server handles each request on a
  thread of its own, and its DynamoDB backend checks a ``ConditionExpression`` and then
  writes the item with no lock held: a thread switch in between (rare, but nothing
  prevents it) would let two concurrent conditional writes both succeed, which real
  DynamoDB never allows. The ledger's "never overwrite a success" and the rate
  budget's slot claims rely on that guarantee, so DynamoDB requests run one at a time
  here. Every other request stays concurrent.
- **Long polls that wake when a message becomes visible.** moto's ``ReceiveMessage``
  with a wait only wakes for a newly sent message; SQS (and so Lambda's pollers)
  answers as soon as a deferred message's visibility timeout ends.

``python -m optout_relay_dev.moto_server [HOST] [PORT]`` serves it in a process of its
own and prints one JSON line, ``{"endpoint": ...}``, once listening (port 0: any free
port).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DYNAMODB_TARGET_PREFIX = "DynamoDB_"

Wsgi = Callable[[dict[str, Any], Any], Iterable[bytes]]


class DynamoDbOneAtATime:
    def __init__(self, app: Wsgi) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DYNAMODB_TARGET_PREFIX):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def quiet_werkzeug(handler: logging.Handler | None = None) -> None:
    """moto's server logs every request through werkzeug: keep that off the terminal
    (warnings and errors go to ``handler`` when one is given)."""
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.WARNING)
    werkzeug.propagate = False
    if handler is None and werkzeug.handlers:
        return
    for existing in list(werkzeug.handlers):
        werkzeug.removeHandler(existing)
    werkzeug.addHandler(handler or logging.NullHandler())


def wait_for_messages(queue: Any, timeout: float) -> None:
    """Replaces moto's ``Queue.wait_for_messages``: also wakes when the first hidden
    (in flight or delayed) message becomes visible."""
    now_ms = time.time() * 1000
    hidden_until = [max(message.visible_at, message.delayed_until) for message in queue._messages]
    due = [(until - now_ms) / 1000 + 0.001 for until in hidden_until if until > now_ms]
    with queue._messages_lock:
        queue._messages_lock.wait_for(lambda: queue.messages, timeout=min([timeout, *due]))


def moto_app() -> Wsgi:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.sqs.models import Queue

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign,assignment]
    return DynamoDbOneAtATime(DomainDispatcherApplication(create_backend_app))


class AtomicMotoServer:
    """The server on ``host:port`` (0: a free port), served by ``start()`` in a
    background thread or by ``serve_forever()`` in the calling one."""

    def __init__(self, host: str, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(host, port, moto_app(), threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def in_a_process(host: str = "127.0.0.1") -> Iterator[str]:
    """The server in a process of its own, on a free port: yields its endpoint URL."""
    process = subprocess.Popen(  # noqa: S603 - our own module, with this Python
        [sys.executable, "-m", "optout_relay_dev.moto_server", host, "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield str(json.loads(process.stdout.readline())["endpoint"])
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:

    args = list(sys.argv[1:] if argv is None else argv)
    quiet_werkzeug()
    server = AtomicMotoServer(args[0] if args else "127.0.0.1", int(args[1]) if len(args) > 1 else 0)
    print(json.dumps({"endpoint": server.endpoint_url}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
