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
from optout_relay.providers.base import FieldProblem, ProviderAdapter, require_secret_fields


class TracklyAdapter(ProviderAdapter):
    name = "trackly"
    default_base_url = "https://app.tracklysms.com"

    def parse_list(self, document: Mapping[str, Any], default_region: str) -> ListRef:
        if "list_number" not in document:
            raise FieldProblem("schema_violation", "list_number is required for provider 'trackly'")
        try:
            number = normalise_phone(document["list_number"], default_region, field_name="list_number")
        except InvalidPhone as error:
            raise FieldProblem("invalid_list_number", str(error)) from None
        return ListRef("list_number", number.e164)

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        (api_key,) = require_secret_fields(self.name, secret, "api_key")
        return Credentials(api_key=api_key)

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
        return CallResult(Status.UNSUBSCRIBED if unsubscribed else Status.NOT_SUBSCRIBED, response.status)
