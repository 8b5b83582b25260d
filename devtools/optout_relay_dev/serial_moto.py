"""moto's server, one request at a time, for tests and the benchmark that share a table
between processes: like real DynamoDB, a conditional write is then atomic. (moto's own
threaded server checks a condition and writes the item without a lock, so concurrent
conditional writes can both succeed.)

An SQS long poll is the exception: while it waits for a message it lets other requests
run, and it wakes as soon as a message becomes visible again, as SQS does. moto's own
wait only wakes for a newly sent message, and here would hold every other request up.

    python -m optout_relay_dev.serial_moto [HOST] [PORT]

prints one JSON line, ``{"endpoint": ...}``, once listening (port 0: any free port).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

LOCK = threading.Lock()


class Serialised:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with LOCK:
            return list(self.app(environ, start_response))


def wait_for_messages(queue: Any, timeout: float) -> None:
    """Replaces moto's ``Queue.wait_for_messages``, which ReceiveMessage calls under LOCK
    when no message is visible."""
    now_ms = time.time() * 1000
    hidden_until = [max(message.visible_at, message.delayed_until) for message in queue._messages]
    due = [(until - now_ms) / 1000 + 0.001 for until in hidden_until if until > now_ms]
    LOCK.release()
    try:
        with queue._messages_lock:
            queue._messages_lock.wait_for(lambda: queue.messages, timeout=min([timeout, *due]))
    finally:
        LOCK.acquire()


def main(argv: Sequence[str] | None = None) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.sqs.models import Queue
    from werkzeug.serving import make_server

    args = list(sys.argv[1:] if argv is None else argv)
    host = args[0] if args else "127.0.0.1"
    port = int(args[1]) if len(args) > 1 else 0
    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign,assignment]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = Serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True)
    print(json.dumps({"endpoint": f"http://{host}:{server.server_port}"}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
