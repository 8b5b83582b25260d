"""Trackly SMS: ``DELETE /api/v2/contacts`` with ``X-Api-Key`` and E.164 numbers in a JSON body.

Trackly answers 200 even when the contact or list does not exist; only the
``unsubscribed`` field says whether anything changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from optout_relay.domain.model import CallResult, Credentials, ListRef, Phone, Status
from optout_relay.domain.phone import InvalidPhone, normalise_phone
from optout_relay.errors import TransientError
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.contract import FieldProblem, ProviderContract, require_secret_fields


class TracklyContract(ProviderContract):
    name = "trackly"
    default_base_url = "https://app.tracklysms.com"
    default_max_rps = None  # Trackly documents no rate limit
    list_field = "list_number"

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        try:
            number = normalise_phone(value, default_region, field_name=self.list_field)
        except InvalidPhone as error:
            # The caller names the field: the message starts after the name.
            message = str(error).removeprefix(f"{self.list_field} ")
            raise FieldProblem("invalid_list_number", message) from None
        return ListRef(self.list_field, number.e164)

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        (api_key,) = require_secret_fields(self.name, secret, "api_key")
        return Credentials(api_key=api_key)


class TracklyAdapter(TracklyContract, ProviderAdapter):
    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        body = json.dumps({"phone_number": phone.e164, "list_number": list_ref.value}).encode()
        response = self.http.request(
            "DELETE",
            f"{self.base_url}/api/v2/contacts",
            headers={
                "X-Api-Key": credentials.api_key,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            body=body,
            provider=self.name,
        )
        self.raise_for_status(response)
        document = response.json()
        unsubscribed = document.get("unsubscribed") if isinstance(document, dict) else None
        if not isinstance(unsubscribed, bool):
            raise TransientError(
                "unexpected_response",
                f"trackly answered {response.status} without a boolean 'unsubscribed' field",
                http_status=response.status,
            )
        return CallResult(
            Status.UNSUBSCRIBED if unsubscribed else Status.NOT_SUBSCRIBED,
            response.status,
            response.evidence([credentials.api_key], unsubscribed=unsubscribed),
        )
