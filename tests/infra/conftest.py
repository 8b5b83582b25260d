"""Fixtures for the infrastructure tests: the template, loaded once."""

from __future__ import annotations

from typing import Any

import pytest

from .invariants import TEMPLATE_PATH, load_template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)
