"""moto's server with one request at a time: like real DynamoDB, a conditional write
is then atomic. (moto's own threaded server checks a condition and writes the item
without a lock, so concurrent conditional writes can both succeed.)"""

from __future__ import annotations

import sys
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class Serialised:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            return list(self.app(environ, start_response))


if __name__ == "__main__":
    run_simple(
        sys.argv[1],
        int(sys.argv[2]),
        Serialised(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        use_reloader=False,
    )
