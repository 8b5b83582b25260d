"""Tatango (legacy v2): ``DELETE /api/v2/lists/{ID}/subscribers/{PHONE}`` with HTTP Basic auth.

Tatango is a US short-code platform: the subscriber id is the 10-digit national
number. A 404 "List not found" is permanent; any other 404 means the number is
not on the list. The ``status`` text of a 200 differs between doc versions, so
only the HTTP status and the presence of the subscriber record are trusted. Its
``opted_out_at`` (in any UTC offset) is kept as evidence when it reads as an instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from urllib3.util import make_headers

from optout_relay.domain.evidence import instant_utc
from optout_relay.domain.model import CallResult, Credentials, ListRef, Phone, Status
from optout_relay.errors import PermanentError, TransientError
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import FieldProblem, ProviderContract, require_secret_fields

# NANP regions reached by US and Canadian short codes.
SERVED_REGIONS = frozenset({"US", "CA", "PR", "VI", "GU", "AS", "MP"})
_MAX_LIST_ID_DIGITS = 18
_MAX_LIST_ID_TEXT = 40  # as a string, padding and spaces included (as phone numbers)


class TatangoContract(ProviderContract):
    name = "tatango"
    default_base_url = "https://app.tatango.com"
    default_max_rps = 1200 / 3600  # 1,200 calls an hour per account
    list_field = "list_id"

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        if isinstance(value, bool):
            value = None
        if isinstance(value, float) and value.is_integer() and abs(value) < 10**_MAX_LIST_ID_DIGITS:
            value = int(value)  # JSON 42.0 is the integer 42
        if isinstance(value, str) and len(value) <= _MAX_LIST_ID_TEXT:
            # Length first: int() refuses strings of more than 4,300 digits with a ValueError.
            digits = value.strip().lstrip("0") or "0"
            if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_LIST_ID_DIGITS:
                value = int(digits)
        if not isinstance(value, int) or not 0 < value < 10**_MAX_LIST_ID_DIGITS:
            raise FieldProblem("schema_violation", "must be a positive integer (or a string of digits)")
        return ListRef(self.list_field, str(value))

    def check_phone(self, phone: Phone) -> None:
        if phone.country_code != 1 or phone.region not in SERVED_REGIONS or len(phone.national_number) != 10:
            raise FieldProblem("unsupported_region", "tatango serves US and Canadian (+1) numbers only")

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        login, api_key = require_secret_fields(self.name, secret, "email", "api_key")
        return Credentials(api_key=api_key, login=login)


class TatangoAdapter(TatangoContract, ProviderAdapter):
    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        list_id, subscriber_id = list_ref.value, phone.national_number
        if not (
            list_id.isascii() and list_id.isdigit() and subscriber_id.isascii() and subscriber_id.isdigit()
        ):
            raise PermanentError("schema_violation", "tatango path parameters must be digits")
        headers = make_headers(basic_auth=f"{credentials.login}:{credentials.api_key}")
        headers["Accept"] = "application/json"
        response = self.http.request(
            "DELETE",
            f"{self.base_url}/api/v2/lists/{list_id}/subscribers/{subscriber_id}",
            headers=headers,
            provider=self.name,
        )
        document = response.json()
        secrets = (credentials.login, credentials.api_key)
        if response.status == 404:
            error = document.get("error") if isinstance(document, dict) else None
            if not isinstance(error, str):
                # Not Tatango's JSON error: a proxy or a wrong base URL, not "not subscribed".
                raise TransientError(
                    "unexpected_response",
                    f"tatango answered 404 with {response.error_text()}",
                    http_status=404,
                )
            if error.strip().lower() == "list not found":
                raise PermanentError("list_not_found", f"tatango has no list {list_id}", http_status=404)
            return CallResult(Status.NOT_SUBSCRIBED, 404, response.evidence(secrets))
        self.raise_for_status(response)
        subscriber = document.get("subscriber") if isinstance(document, dict) else None
        if response.status != 200 or not isinstance(subscriber, dict):
            # A firewall challenge (202 with HTML, say) is not an unsubscribe.
            raise TransientError(
                "unexpected_response",
                f"tatango answered {response.status} without a subscriber record",
                http_status=response.status,
            )
        opted_out_at = instant_utc(subscriber.get("opted_out_at"))
        return CallResult(Status.UNSUBSCRIBED, 200, response.evidence(secrets, opted_out_at=opted_out_at))
