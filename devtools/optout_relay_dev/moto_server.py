"""moto's server mode with atomic DynamoDB writes.

moto's threaded server handles each request on a thread of its own, and its DynamoDB
backend checks a ``ConditionExpression`` and then writes the item with no lock held: a
thread switch in between (rare, but nothing prevents it) would let two concurrent
conditional writes both succeed, which real DynamoDB never allows. The ledger's "never
overwrite a success" and the rate budget's version checks rely on that guarantee.
Here DynamoDB requests run one at a time; every other request (SQS long polls above
all, which would otherwise hold everything up for their wait) stays concurrent.

``python -m optout_relay_dev.moto_server HOST PORT`` serves it in a process of its own.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
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


def moto_app() -> Wsgi:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DynamoDbOneAtATime(DomainDispatcherApplication(create_backend_app))


class AtomicMotoServer:
    """moto's server on ``host:port`` (0: a free port) in a background thread."""

    def __init__(self, host: str, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(host, port, moto_app(), threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread (a process of its own)."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def main(argv: list[str]) -> None:
    from optout_relay_dev.emulator import quiet_werkzeug

    quiet_werkzeug()
    AtomicMotoServer(argv[0], int(argv[1])).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
