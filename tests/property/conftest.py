"""The integration tests' world (moto in-process + the provider simulators), a harness that
drives the real handler with Lambda SQS events built here, and the Hypothesis profiles.

``make test`` runs the ``ci`` profile: a fixed set of examples (derandomize), so a red
build stays red on a rerun and a green one cannot turn red by the luck of a draw; new
input classes reach CI by changing the strategies, which changes the examples. It does
not shrink: each example is a real invocation (about 35 ms here), and shrinking a handful
of distinct failures takes minutes; the failing batch is printed record by record instead.
Other profiles, with ``HYPOTHESIS_PROFILE=<name> .venv/bin/pytest tests/property``:
``shrink``, the same examples shrunk to minimal ones; ``explore``, fresh random examples,
many more of them, to look for new failures.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import Phase, settings

from tests.integration.conftest import RelayWorld, world

from .harness import Harness

__all__ = ["harness", "world"]

settings.register_profile(
    "ci", max_examples=600, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate)
)
settings.register_profile("shrink", settings.get_profile("ci"), phases=tuple(Phase)[:-1])  # all but explain
settings.register_profile("explore", max_examples=3_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def harness(world: RelayWorld, captured_logs: io.StringIO) -> Harness:
    return Harness.around(world, captured_logs)
