"""moto's server with one request at a time: like real DynamoDB, a conditional write
is then atomic. (moto's own threaded server checks a condition and writes the item
without a lock, so concurrent conditional writes can both succeed.)

An SQS long poll is the exception: while it waits for a message it lets other
requests run, and it wakes as soon as a message becomes visible again, as SQS does.
moto's own wait blocks until a new message is sent or the wait ends, which here
would also hold every other request up for the whole wait.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import Queue
from werkzeug.serving import run_simple

LOCK = threading.Lock()


class Serialised:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with LOCK:
            return list(self.app(environ, start_response))


def wait_for_messages(queue: Queue, timeout: int) -> None:
    """Called by moto's ReceiveMessage, under LOCK, when no message is visible."""
    now_ms = time.time() * 1000
    hidden = [max(m.visible_at, m.delayed_until) for m in queue._messages]
    wake = min([(at - now_ms) / 1000 + 0.001 for at in hidden if at > now_ms], default=timeout)
    LOCK.release()
    try:
        with queue._messages_lock:
            queue._messages_lock.wait_for(lambda: queue.messages, timeout=min(timeout, wake))
    finally:
        LOCK.acquire()


if __name__ == "__main__":
    Queue.wait_for_messages = wait_for_messages
    run_simple(
        sys.argv[1],
        int(sys.argv[2]),
        Serialised(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        use_reloader=False,
    )
