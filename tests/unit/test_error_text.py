"""What of a provider's error body reaches logs, the ledger and the DLQ."""

from __future__ import annotations

import json

import pytest
from optout_relay.providers.http import HttpResponse


def response(document: object) -> HttpResponse:
    return HttpResponse(400, {"content-type": "application/json"}, json.dumps(document).encode())


@pytest.mark.parametrize(
    "echoed",
    ["+12065550142", "2065550142", "(206) 555-0142", "+1 206.555.0142", "206-555-0142"],
)
def test_a_number_echoed_in_an_error_body_is_masked(echoed: str) -> None:
    text = response({"error": "invalid_phone", "message": f"{echoed} is not a valid number"}).error_text()
    assert text == "invalid_phone / ***0142 is not a valid number"


def test_short_numbers_and_codes_are_left_alone() -> None:
    text = response({"error": "list_not_found", "message": "list 4242 not found (code 12345)"}).error_text()
    assert text == "list_not_found / list 4242 not found (code 12345)"


def test_a_body_that_is_not_json_is_described_not_copied() -> None:
    html = HttpResponse(502, {"content-type": "text/html"}, b"<html>+12065550142</html>")
    assert html.error_text() == "non-JSON body (text/html, 25 bytes)"
