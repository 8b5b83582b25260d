"""The execution environment's init phase, kept cheap for the garbage collector.

Importing boto3 and loading the service models of its first clients allocates
hundreds of thousands of objects that live as long as the environment. Every full
collection walks all of them, and on a cold start that is tens of milliseconds,
once during the imports and again inside the first invocation. So the collector is
paused from the first import of the handler module to the end of its init, and what
the init built is then frozen: moved to a permanent generation that later
collections skip. None of it was ever going to be freed.
"""

from __future__ import annotations

import gc

gc.disable()


def finished() -> None:
    """The init is over: freeze what it built and collect as usual from now on."""
    gc.freeze()
    gc.enable()
