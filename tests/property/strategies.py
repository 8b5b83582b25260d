"""Hypothesis strategies for message bodies (see ``bodies.BodySpec``): valid opt-out events,
events the contract certainly rejects, and events that may go either way."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from tests.integration.conftest import TATANGO_LIST, TRACKLY_LIST

from .bodies import PHONE, BodySpec, Kind
from .strict_sqs import MAX_MESSAGE_BYTES

PROVIDERS = ("trackly", "tatango")
OUT_OF_RANGE_DATES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-12:00")
VANITY_NUMBERS = ("415-CALL-NOW", "1-800-FLOWERS", "+1 (206) GOT-MILK", "415-555-0123 ext 7")

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12)
# Runs of 9 to 13 digits that start with 9: nothing but a body puts them in a log.
planted_digits = st.integers(min_value=9 * 10**8, max_value=10**13 - 1).map(str).filter(lambda s: s[0] == "9")
hostile_characters = st.sampled_from(
    ["\u0001", "\x00", "\ufffe", "\uffff", "\ud800", "\udfff", "\u202e", "\x7f"]
)
hostile_text = st.one_of(
    st.builds(lambda a, c, b: a + c + b, words, hostile_characters, words),
    st.text(alphabet=st.characters(exclude_categories=()), min_size=1, max_size=20).filter(str.strip),
)
event_ids = st.one_of(words, st.builds(lambda w, d: f"{w}-{d}", words, planted_digits))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([10**300, -(10**4000), 2**63, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
    words,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)
not_objects = st.one_of(json_scalars, st.lists(json_values, max_size=3))
valid_occurred_at = st.builds(
    lambda moment, zone: moment.strftime("%Y-%m-%dT%H:%M:%S") + zone,
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 31)),
    st.sampled_from(["Z", "+00:00", "-07:00", "+05:30", ""]),
)
ISO_DATE_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?)?"
)
wrappers = st.sampled_from(["raw", "raw", "sns", "eventbridge"])
phone_formats = st.sampled_from(["e164", "e164", "parens", "dots", "dashes", "spaces"])


@st.composite
def valid_events(draw: st.DrawFn) -> BodySpec:
    provider = draw(st.sampled_from(PROVIDERS))
    document: dict[str, Any] = {"provider": provider, "phone_number": PHONE}
    if provider == "trackly":
        document["list_number"] = draw(
            st.sampled_from([TRACKLY_LIST, "(800) 555-1234", "800.555.1234", "+1 800 555 1234"])
        )
    else:
        document["list_id"] = draw(
            st.sampled_from([TATANGO_LIST, str(TATANGO_LIST), f" {TATANGO_LIST} ", float(TATANGO_LIST)])
        )
    for name, values in (("event_id", event_ids), ("occurred_at", valid_occurred_at), ("source", words)):
        presence = draw(st.sampled_from(["absent", "null", "set", "set"]))
        if presence != "absent":
            document[name] = draw(values) if presence == "set" else None
    if draw(st.booleans()):
        document["campaign"] = draw(words)  # unknown extra fields are ignored
    return BodySpec(
        Kind.VALID,
        "valid event",
        document=document,
        wrapper=draw(wrappers),
        phone_format=draw(phone_formats),
        provider=provider,
    )


def _with(base: BodySpec, why: str, kind: Kind = Kind.INVALID, **changes: Any) -> BodySpec:
    return replace(base, kind=kind, why=why, **changes)


def _changed(base: BodySpec, name: str, value: Any) -> dict[str, Any]:
    return {**base.document, name: value}


def _without(base: BodySpec, name: str) -> dict[str, Any]:
    return {key: value for key, value in base.document.items() if key != name}


# Values the contract rejects in each field, whatever else the event holds.
_WRONG = {
    "provider": st.one_of(st.integers(), st.booleans(), st.floats(), st.lists(words, max_size=2), st.none()),
    "phone_number": st.one_of(
        st.integers(), st.none(), st.lists(st.just(PHONE), max_size=2), st.sampled_from(["", "   ", "12"])
    ),
    "list_number": st.one_of(
        st.integers(), st.none(), st.sampled_from(["", "12", "800-FLOWERS", "+1 555 555 5555"])
    ),
    "list_id": st.sampled_from(
        [True, 0, -1, 10**18, 10**30, 1.5, float("nan"), float("inf"), -float("inf"), "abc", "4242a", [4242]]
    )
    | st.sampled_from([None, "", "0" * 4_300 + "4242"]),  # the last: more digits than int() converts
    "event_id": st.sampled_from([0, 12, True, [], {}, 1.5, "", "   ", "\t\n", "x" * 129]),
    "occurred_at": st.sampled_from(
        [
            0,
            True,
            [],
            {},
            "yesterday",
            "2026-13-45T00:00:00Z",
            "",
            " ",
            "2026-11-20T10:00:00Z" + " " * 50,
            *OUT_OF_RANGE_DATES,
        ]
    ),
    "source": st.sampled_from([0, True, [], {"a": 1}, "x" * 257]),
}


INVALID_CASES = [
    *("not_json", "not_object", "wrapper_garbage", "missing", "wrong", "wrong", "unknown_provider"),
    *("swapped", "bad_phone", "region", "deep", "large", "near_limit", "pinned", "hostile_id"),
]


@st.composite
def invalid_events(draw: st.DrawFn) -> BodySpec:
    base = draw(valid_events())
    list_field = "list_number" if base.provider == "trackly" else "list_id"
    case = draw(st.sampled_from(INVALID_CASES))
    if case == "not_json":
        raw = draw(
            st.sampled_from(
                ["{not json", "{'provider': 'trackly'}", f"STOP {PHONE}", "[1,", "provider=trackly"]
            )
        )
        return _with(base, "not JSON", raw=raw, wrapper=draw(st.sampled_from(["raw", "sns"])))
    if case == "not_object":
        return _with(base, "JSON but not an object", document=draw(not_objects), wrapper=draw(wrappers))
    if case == "wrapper_garbage":
        garbage = draw(not_objects)
        document = draw(
            st.sampled_from(
                [{"Type": "Notification", "Message": garbage}, {"detail-type": "OptOut", "detail": garbage}]
            )
        )
        return _with(base, "wrapper around garbage", document=document, wrapper="raw")
    if case == "missing":
        name = draw(st.sampled_from(["provider", "phone_number", list_field]))
        return _with(base, f"no {name}", document=_without(base, name))
    if case == "wrong":
        name = draw(
            st.sampled_from(["provider", "phone_number", list_field, "event_id", "occurred_at", "source"])
        )
        return _with(base, f"invalid {name}", document=_changed(base, name, draw(_WRONG[name])))
    if case == "unknown_provider":
        name = draw(st.one_of(words, hostile_text).filter(lambda s: s.strip().casefold() not in PROVIDERS))
        return _with(base, "unknown provider", document=_changed(base, "provider", name))
    if case == "swapped":
        document = {**base.document, "provider": PHONE, "phone_number": base.provider}
        return _with(base, "provider and phone_number swapped", document=document)
    if case == "bad_phone":
        phone = draw(st.one_of(st.sampled_from(VANITY_NUMBERS), words, st.just("+1 415 555 0123" + " " * 30)))
        return _with(base, "invalid phone_number", document=_changed(base, "phone_number", phone))
    if case == "region":
        uk = "+4420794600" + str(draw(st.integers(10, 99)))
        document = {"provider": "tatango", "phone_number": uk, "list_id": TATANGO_LIST}
        return _with(base, "tatango, non-US number", document=document, wrapper="raw")
    if case == "deep":
        where = draw(st.sampled_from(["body", "field", "sns"]))
        depth = (
            where,
            # json raises RecursionError from 1,000 levels on Python 3.11, 3,000 on 3.12
            # (Lambda's runtime), 10,000 on 3.13: a limit of the relay's own must hold on each.
            draw(st.sampled_from([1_000, 3_000, 10_000])),
            draw(st.sampled_from(["list", "object"])),
        )
        return _with(
            base,
            f"nested {depth[1]} levels ({where})",
            deep=depth,
            wrapper="sns" if where == "sns" else "raw",
        )
    if case == "large":
        padding = draw(st.sampled_from(["x" * 70_000, "\u00e9" * 33_000, "\U0001f600" * 16_500]))
        return _with(base, "body over 64 KiB", padding=padding)
    if case == "near_limit":  # what SQS takes, but a dead letter of it must also carry attributes
        size = MAX_MESSAGE_BYTES - draw(st.integers(min_value=0, max_value=300))
        return _with(base, f"body of {size} bytes", wrapper="raw", pad_to=size)
    if case == "pinned":
        pinned = draw(st.sampled_from(["x" * 2_000, "y" * 129, "   "]))
        return _with(base, "invalid optout_event_id attribute", pinned_event_id=pinned)
    event_id = draw(st.one_of(hostile_text, st.builds(lambda d: f"crm-{d}", planted_digits)))
    document = {**base.document, "phone_number": "12", "event_id": event_id}
    return _with(base, "hostile event_id on a rejected event", document=document)


@st.composite
def maybe_events(draw: st.DrawFn) -> BodySpec:
    """Mutated or hostile values the contract may or may not accept: only accounted for."""
    base = draw(valid_events())
    case = draw(
        st.sampled_from(["mutated", "hostile_strings", "extreme_extras", "iso_dates", "unknown_list"])
    )
    if case == "iso_dates":  # ISO-8601 shapes, edges of the calendar included
        value = draw(st.from_regex(ISO_DATE_TIME, fullmatch=True))
        return _with(base, "occurred_at fuzzed", Kind.MAYBE, document=_changed(base, "occurred_at", value))
    if case == "unknown_list":  # answered 404 "List not found": the list id must not be echoed
        document = {"provider": "tatango", "phone_number": PHONE, "list_id": int(draw(planted_digits))}
        return _with(base, "tatango, unknown list", Kind.MAYBE, document=document, provider="tatango")
    if case == "mutated":
        name = draw(
            st.sampled_from(["provider", "list_number", "list_id", "event_id", "occurred_at", "source", "x"])
        )
        return _with(base, f"{name} mutated", Kind.MAYBE, document=_changed(base, name, draw(json_values)))
    if case == "hostile_strings":
        name = draw(st.sampled_from(["event_id", "source"]))
        return _with(base, f"hostile {name}", Kind.MAYBE, document=_changed(base, name, draw(hostile_text)))
    extras = draw(st.dictionaries(st.one_of(words, hostile_text), json_values, min_size=1, max_size=3))
    depth = draw(st.integers(min_value=0, max_value=20))
    return _with(
        base,
        "extreme extra fields",
        Kind.MAYBE,
        document={**base.document, **{k: v for k, v in extras.items() if k not in base.document}},
        deep=("field", depth, "list") if depth else None,
    )


records = st.tuples(
    st.one_of(valid_events(), valid_events(), invalid_events(), invalid_events(), maybe_events()),
    # The receive count; None: the last one the redrive policy allows (MAX_RECEIVE_COUNT).
    st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
)
batches = st.lists(records, min_size=1, max_size=10)
