"""The HTTP layer every adapter uses: urllib3, a timeout on every call, TLS verified.

Transport failures become ``TransientError`` with the exception's class name only:
urllib3's own messages repeat the URL, and a Tatango URL holds the phone number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, SSLError, TimeoutError

from optout_relay.domain.evidence import (
    Evidence,
    EvidenceValue,
    frozen_evidence,
    http_date_utc,
    request_id_from,
)
from optout_relay.errors import TransientError
from optout_relay.masking import mask_numbers

_MAX_ERROR_TEXT = 200


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_seconds: float = 0.0

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON (a firewall's HTML page, say)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_text(self) -> str:
        """A short, safe description of an error body: its ``error``/``code`` fields if JSON."""
        document = self.json()
        if isinstance(document, dict):
            parts = [str(document[key]) for key in ("error", "code", "message") if document.get(key)]
            if parts:
                # The text reaches logs: a number in it is masked like every number there.
                return mask_numbers(" / ".join(parts))[:_MAX_ERROR_TEXT]
        if self.body:
            kind = self.headers.get("content-type", "unknown type").split(";")[0]
            return f"non-JSON body ({kind}, {len(self.body)} bytes)"
        return ""

    def retry_after(self, now: datetime | None = None) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"), now)

    def evidence(self, secrets: Iterable[str | None], **fields: EvidenceValue | None) -> Evidence:
        """The provider's confirmation in this response (``domain.evidence``): its status,
        ``Date`` and request id (dropped if it holds one of ``secrets``), and ``fields`` the
        adapter read from the body."""
        return frozen_evidence(
            {
                "http_status": self.status,
                "provider_date": http_date_utc(self.headers.get("date")),
                "request_id": request_id_from(self.headers, secrets),
                **fields,
            }
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date. ``None`` when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """One connection pool per execution environment, shared by the adapters."""

    def __init__(self, timeout_seconds: float, pool_size: int = 10) -> None:
        self.timeout = urllib3.Timeout(total=timeout_seconds)
        self.pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=pool_size,
            block=False,
            cert_reqs="CERT_REQUIRED",
            retries=False,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None = None,
        provider: str,
    ) -> HttpResponse:
        started = time.monotonic()
        try:
            response = self.pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=self.timeout,
                redirect=False,
                retries=False,
            )
        except TimeoutError as error:
            raise TransientError(
                "timeout", f"{provider} did not answer in time ({error.__class__.__name__})"
            ) from None
        except SSLError as error:
            raise TransientError(
                "tls_error", f"TLS failure talking to {provider} ({error.__class__.__name__})"
            ) from None
        except HTTPError as error:
            raise TransientError(
                "connection_error", f"connection to {provider} failed ({error.__class__.__name__})"
            ) from None
        return HttpResponse(
            status=response.status,
            headers={key.lower(): value for key, value in response.headers.items()},
            body=response.data or b"",
            elapsed_seconds=time.monotonic() - started,
        )
