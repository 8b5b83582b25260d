"""events/optout-event.schema.json says what the relay's parser does, and the sample
events are what `sam local generate-event sqs receive-message` makes.

The parser (``parse_optout``) is the reference. Phone validity (libphonenumber) cannot
be written in JSON Schema, so agreement is checked with every phone field that is a
well-formed string replaced by a valid number on the parser's side.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from optout_relay.domain.events import parse_optout, unwrap_envelope
from optout_relay.domain.model import InboundMessage
from optout_relay.errors import InvalidEvent
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import PROVIDERS
from optout_relay.settings import Settings

from . import invariants as inv

EVENTS = inv.REPO_ROOT / "events"
SCHEMA_PATH = EVENTS / "optout-event.schema.json"
SAMPLE_FILES = sorted(EVENTS.glob("sqs-*.json"))
VALID_PHONE = "+12065550100"  # US, valid for Trackly and Tatango alike
VALID_LIST_NUMBER = "+12065550199"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:optout-relay-queue"
GENERATED_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}
GENERATED_ATTRIBUTE_KEYS = {
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
}


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def adapters() -> dict[str, ProviderAdapter]:
    http = HttpClient(timeout_seconds=1)
    return {name: cls(cls.default_base_url, http) for name, cls in PROVIDERS.items()}


def parser_accepts(body: str) -> bool:
    message = InboundMessage(message_id="m-1", body=body, receive_count=1)
    try:
        parse_optout(message, adapters(), "US")
    except InvalidEvent:
        return False
    return True


def schema_accepts(document: Any) -> bool:
    return bool(validator().is_valid(document))


def with_valid_phones(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each well-formed phone string replaced by a valid number."""
    replaced = dict(document)
    for field, valid in (("phone_number", VALID_PHONE), ("list_number", VALID_LIST_NUMBER)):
        value = replaced.get(field)
        if isinstance(value, str) and value.strip() and len(value) <= 40:
            replaced[field] = valid
    return replaced


def sample_records() -> Iterator[tuple[str, int, dict[str, Any]]]:
    for path in SAMPLE_FILES:
        for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))["Records"]):
            yield path.name, index, record


SAMPLES = list(sample_records())


def test_schema_is_valid_draft_2020_12() -> None:
    schema = validator().schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_sample_files_exist() -> None:
    assert {p.name for p in SAMPLE_FILES} >= {
        "sqs-trackly.json",
        "sqs-tatango.json",
        "sqs-invalid.json",
        "sqs-mixed-batch.json",
    }


@pytest.mark.parametrize(("name", "index", "record"), SAMPLES, ids=[f"{n}[{i}]" for n, i, _ in SAMPLES])
def test_sample_record_has_the_generated_event_shape(name: str, index: int, record: dict[str, Any]) -> None:
    assert set(record) == GENERATED_RECORD_KEYS
    assert set(record["attributes"]) == GENERATED_ATTRIBUTE_KEYS
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE_ARN
    assert record["awsRegion"] == "us-east-1"
    assert isinstance(record["body"], str)
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()


def test_message_ids_are_unique_within_each_file() -> None:
    for path in SAMPLE_FILES:
        ids = [r["messageId"] for r in json.loads(path.read_text())["Records"]]
        assert len(ids) == len(set(ids)), path.name


@pytest.mark.parametrize(("name", "index", "record"), SAMPLES, ids=[f"{n}[{i}]" for n, i, _ in SAMPLES])
def test_schema_agrees_with_the_parser_on_sample_records(
    name: str, index: int, record: dict[str, Any]
) -> None:
    try:
        document = unwrap_envelope(record["body"])
    except InvalidEvent:
        assert not parser_accepts(record["body"])
        return
    assert schema_accepts(document) == parser_accepts(json.dumps(with_valid_phones(document)))


def _verdicts(name: str) -> list[bool]:
    return [parser_accepts(r["body"]) for n, _, r in SAMPLES if n == name]


def test_single_provider_samples_are_accepted() -> None:
    assert _verdicts("sqs-trackly.json") == [True]
    assert _verdicts("sqs-tatango.json") == [True]


def test_invalid_sample_is_rejected_by_the_parser_for_its_phone_only() -> None:
    records = [r for n, _, r in SAMPLES if n == "sqs-invalid.json"]
    assert records
    for record in records:
        document = unwrap_envelope(record["body"])
        assert not parser_accepts(record["body"])
        assert parser_accepts(json.dumps(with_valid_phones(document)))


def test_mixed_batch_covers_every_case() -> None:
    records = [r for n, _, r in SAMPLES if n == "sqs-mixed-batch.json"]
    bodies = [json.loads(r["body"]) for r in records]
    documents = [unwrap_envelope(r["body"]) for r in records]
    providers = {d.get("provider") for d in documents}
    assert {"trackly", "tatango"} <= providers
    assert providers - set(PROVIDERS), "an unknown provider"
    assert any(b.get("Type") == "Notification" for b in bodies), "an SNS-wrapped body"
    assert any("detail-type" in b for b in bodies), "an EventBridge-wrapped body"
    assert any(not str(d.get("phone_number", "+")).startswith("+") for d in documents), (
        "a national-format number"
    )
    verdicts = [parser_accepts(r["body"]) for r in records]
    assert True in verdicts
    assert False in verdicts
    wrapped = [parser_accepts(r["body"]) for r, b in zip(records, bodies, strict=True) if "provider" not in b]
    assert wrapped
    assert all(wrapped), "the wrapped samples are valid opt-outs"


def test_env_json_sets_exactly_the_template_variables(template: dict[str, Any]) -> None:
    from webhook_receiver.settings import Settings as ReceiverSettings

    env_file = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    function_id, _ = inv.the_function(template)
    receiver_id, _ = inv.function_of_package(template, inv.RECEIVER_PACKAGE_NAME)
    assert list(env_file) == [function_id, receiver_id]
    for logical_id in env_file:
        assert set(env_file[logical_id]) == set(inv.environment(template, logical_id))
        assert all(isinstance(v, str) for v in env_file[logical_id].values())
    Settings.from_env(env_file[function_id])  # raises ConfigurationError if unreadable
    ReceiverSettings.from_env(env_file[receiver_id])


# Hand-written edge cases: (id, document, accepted by both schema and parser).
TRACKLY = {"provider": "trackly", "phone_number": VALID_PHONE, "list_number": VALID_LIST_NUMBER}
TATANGO = {"provider": "tatango", "phone_number": VALID_PHONE, "list_id": 42}
EVERYWHERE = {"scope": "everywhere", "phone_number": VALID_PHONE}
PROVIDER_SCOPE = {"scope": "provider", "provider": "tatango", "phone_number": VALID_PHONE}
EDGE_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("trackly-minimal", TRACKLY, True),
    ("tatango-minimal", TATANGO, True),
    ("national-format-phone", {**TATANGO, "phone_number": "(206) 555-0100"}, True),
    ("extra-fields-ignored", {**TRACKLY, "campaign": "spring", "nested": {"a": [1]}}, True),
    ("missing-provider", {k: v for k, v in TRACKLY.items() if k != "provider"}, False),
    ("provider-null", {**TRACKLY, "provider": None}, False),
    ("provider-wrong-case", {**TRACKLY, "provider": "Trackly"}, False),
    ("provider-unknown", {**TRACKLY, "provider": "twilio"}, False),
    ("provider-not-a-string", {**TRACKLY, "provider": 1}, False),
    ("missing-phone", {k: v for k, v in TRACKLY.items() if k != "phone_number"}, False),
    ("phone-not-a-string", {**TRACKLY, "phone_number": 12065550100}, False),
    ("phone-empty", {**TRACKLY, "phone_number": ""}, False),
    ("phone-blank", {**TRACKLY, "phone_number": "   "}, False),
    ("phone-too-long", {**TRACKLY, "phone_number": "+1 206 555 0100" + " " * 30}, False),
    ("phone-vanity-letters", {**TRACKLY, "phone_number": "206-555-CALL"}, False),
    ("phone-extension-letters", {**TRACKLY, "phone_number": "+1 206 555 0100 x12"}, False),
    ("phone-slashes", {**TRACKLY, "phone_number": "206/555-0100"}, True),
    ("list-number-vanity-letters", {**TRACKLY, "list_number": "206-555-LIST"}, False),
    ("event-id-control-character", {**TRACKLY, "event_id": "crm\u0001-7"}, False),
    ("event-id-newline", {**TRACKLY, "event_id": "crm-7\n"}, False),
    ("trackly-missing-list-number", {k: v for k, v in TRACKLY.items() if k != "list_number"}, False),
    ("trackly-list-id-instead", {**TATANGO, "provider": "trackly"}, False),
    ("trackly-list-number-null", {**TRACKLY, "list_number": None}, False),
    ("trackly-ignores-list-id", {**TRACKLY, "list_id": "not a list"}, True),
    ("tatango-missing-list-id", {k: v for k, v in TATANGO.items() if k != "list_id"}, False),
    ("tatango-list-number-instead", {**TRACKLY, "provider": "tatango"}, False),
    ("tatango-ignores-list-number", {**TATANGO, "list_number": 5}, True),
    ("list-id-digit-string", {**TATANGO, "list_id": "42"}, True),
    ("list-id-padded-digit-string", {**TATANGO, "list_id": " 000042 "}, True),
    ("list-id-18-digits", {**TATANGO, "list_id": 10**18 - 1}, True),
    ("list-id-19-digits", {**TATANGO, "list_id": 10**18}, False),
    ("list-id-19-digit-string", {**TATANGO, "list_id": "1" + "0" * 18}, False),
    ("list-id-zero", {**TATANGO, "list_id": 0}, False),
    ("list-id-zero-string", {**TATANGO, "list_id": "0"}, False),
    ("list-id-negative", {**TATANGO, "list_id": -5}, False),
    ("list-id-signed-string", {**TATANGO, "list_id": "+5"}, False),
    ("list-id-true", {**TATANGO, "list_id": True}, False),
    ("list-id-null", {**TATANGO, "list_id": None}, False),
    ("list-id-fraction", {**TATANGO, "list_id": 4.5}, False),
    ("list-id-integral-float", {**TATANGO, "list_id": 42.0}, True),
    ("list-id-integral-float-19-digits", {**TATANGO, "list_id": 1e18}, False),
    ("list-id-non-ascii-digits", {**TATANGO, "list_id": "\uff14\uff12"}, False),
    ("list-id-list", {**TATANGO, "list_id": [42]}, False),
    ("event-id-128", {**TRACKLY, "event_id": "e" * 128}, True),
    ("event-id-129", {**TRACKLY, "event_id": "e" * 129}, False),
    ("event-id-empty", {**TRACKLY, "event_id": ""}, False),
    ("event-id-blank", {**TRACKLY, "event_id": "   "}, False),
    ("event-id-number", {**TRACKLY, "event_id": 42}, False),
    ("event-id-null", {**TRACKLY, "event_id": None}, True),
    ("occurred-at-utc", {**TRACKLY, "occurred_at": "2026-04-11T14:03:27Z"}, True),
    ("occurred-at-offset-fraction", {**TRACKLY, "occurred_at": "2026-04-11T14:03:27.125+02:00"}, True),
    ("occurred-at-words", {**TRACKLY, "occurred_at": "yesterday"}, False),
    ("occurred-at-number", {**TRACKLY, "occurred_at": 1775900000}, False),
    ("occurred-at-impossible-date", {**TRACKLY, "occurred_at": "2026-13-45T10:00:00Z"}, False),
    ("occurred-at-null", {**TRACKLY, "occurred_at": None}, True),
    ("source-256", {**TRACKLY, "source": "s" * 256}, True),
    ("source-257", {**TRACKLY, "source": "s" * 257}, False),
    ("source-empty", {**TRACKLY, "source": ""}, True),
    ("source-not-a-string", {**TRACKLY, "source": ["crm"]}, False),
    ("source-null", {**TRACKLY, "source": None}, True),
    # Scopes (issue 10): one list, every list of a provider, or everywhere.
    ("everywhere-minimal", EVERYWHERE, True),
    ("everywhere-with-purposes", {**EVERYWHERE, "purposes": ["marketing", "Informational"]}, True),
    ("everywhere-with-provider", {**EVERYWHERE, "provider": "trackly"}, False),
    ("everywhere-with-account", {**EVERYWHERE, "account": "trackly-brand-b"}, False),
    ("provider-scope-minimal", PROVIDER_SCOPE, True),
    ("provider-scope-trackly", {**PROVIDER_SCOPE, "provider": "trackly"}, True),
    ("provider-scope-with-account", {**PROVIDER_SCOPE, "account": "tatango-brand-b"}, True),
    ("provider-scope-with-purposes", {**PROVIDER_SCOPE, "purposes": ["marketing"]}, True),
    ("provider-scope-without-provider", {k: v for k, v in PROVIDER_SCOPE.items() if k != "provider"}, False),
    ("provider-scope-unknown-provider", {**PROVIDER_SCOPE, "provider": "twilio"}, False),
    ("scope-unknown", {**EVERYWHERE, "scope": "all"}, False),
    ("scope-wrong-case", {**EVERYWHERE, "scope": "Everywhere"}, False),
    ("scope-single-spelled-out", {**TRACKLY, "scope": "single"}, False),
    ("scope-not-a-string", {**TRACKLY, "scope": 1}, False),
    ("single-with-account", {**TATANGO, "account": "tatango-brand-b"}, True),
    ("single-with-purposes", {**TRACKLY, "purposes": ["marketing"]}, False),
    ("account-not-a-string", {**TATANGO, "account": 7}, False),
    ("account-empty", {**TATANGO, "account": ""}, False),
    ("purposes-32", {**EVERYWHERE, "purposes": [f"purpose-{n}" for n in range(32)]}, True),
    ("purposes-33", {**EVERYWHERE, "purposes": [f"purpose-{n}" for n in range(33)]}, False),
    ("purpose-64-characters", {**EVERYWHERE, "purposes": ["p" * 64]}, True),
    ("purpose-65-characters", {**EVERYWHERE, "purposes": ["p" * 65]}, False),
    ("purpose-empty", {**EVERYWHERE, "purposes": [""]}, False),
    ("purpose-not-a-string", {**PROVIDER_SCOPE, "purposes": [1]}, False),
    ("purposes-not-an-array", {**PROVIDER_SCOPE, "purposes": "marketing"}, False),
]


@pytest.mark.parametrize(
    ("document", "accepted"), [(d, a) for _, d, a in EDGE_CASES], ids=[i for i, _, _ in EDGE_CASES]
)
def test_schema_and_parser_agree_on_edge_cases(document: dict[str, Any], accepted: bool) -> None:
    assert parser_accepts(json.dumps(document)) is accepted
    assert schema_accepts(document) is accepted


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", '"a string"', json.dumps({"Type": "Notification", "Message": "{"})],
    ids=["not-json", "array", "string", "sns-message-not-json"],
)
def test_bodies_that_are_not_an_object_are_rejected(body: str) -> None:
    assert not parser_accepts(body)
    try:
        document = json.loads(body)
    except ValueError:
        return
    if isinstance(document, dict) and document.get("Type") == "Notification":
        return  # the envelope is fine; its Message is not JSON
    assert not schema_accepts(document)


def test_envelopes_carry_the_same_object() -> None:
    sns = {"Type": "Notification", "Message": json.dumps(TATANGO)}
    eventbridge = {"detail-type": "OptOut", "source": "crm", "detail": TATANGO}
    for envelope in (sns, eventbridge):
        document = unwrap_envelope(json.dumps(envelope))
        assert document == TATANGO
        assert schema_accepts(document)
        assert parser_accepts(json.dumps(envelope))


# Where the two differ. The schema may be stricter than the parser (a producer that
# follows the schema is always accepted); it must never accept what the parser rejects.
SCHEMA_STRICTER = [
    ("occurred-at-date-only", {**TRACKLY, "occurred_at": "2026-04-11"}),
    ("occurred-at-no-offset", {**TRACKLY, "occurred_at": "2026-04-11T14:03:27"}),
    ("occurred-at-space-separator", {**TRACKLY, "occurred_at": "2026-04-11 14:03:27Z"}),
]


@pytest.mark.parametrize("document", [d for _, d in SCHEMA_STRICTER], ids=[i for i, _ in SCHEMA_STRICTER])
def test_schema_is_stricter_on_occurred_at_formats_the_parser_tolerates(
    document: dict[str, Any],
) -> None:
    assert parser_accepts(json.dumps(document))
    assert not schema_accepts(document)


def test_date_time_format_is_checked() -> None:
    # Without a date-time format checker (rfc3339-validator), "format" is not enforced.
    assert not validator().is_valid({**TRACKLY, "occurred_at": "2026-02-30T10:00:00Z"})


@pytest.mark.parametrize("index", range(len(validator().schema["examples"])))
def test_the_schema_examples_are_accepted_by_both(index: int) -> None:
    example = validator().schema["examples"][index]
    assert schema_accepts(example)
    assert parser_accepts(json.dumps(example))
