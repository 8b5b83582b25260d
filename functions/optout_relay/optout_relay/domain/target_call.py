"""One opt-out at one target: credentials, rate budget, the provider call and in-invocation
retries, per account. It returns what happened as a value; the relay decides the record's
fate from the results of all its targets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum

from optout_relay.domain.model import CallResult, Credentials, OptOut, Status
from optout_relay.domain.ports import AccountClients, ProviderClient, RateBudget, SecretStore
from optout_relay.domain.retry import RetryPolicy
from optout_relay.domain.targets import Account
from optout_relay.errors import CredentialsRejected, PermanentError, RelayError, TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import OutcomeMetrics, logger, provider_subsegment

# After a 429 the account runs at half its budget for at least a minute (or the Retry-After).
RATE_LIMITED_FACTOR = 0.5
RATE_LIMITED_SECONDS = 60.0
RATE_LIMITED = "rate_limited"  # the error code of a provider's 429
POSTPONED_METRIC = {"no_rate_budget": "Deferred", "out_of_time": "OutOfTime"}


class Step(StrEnum):
    ANSWERED = "answered"  # the provider answered: unsubscribed or not subscribed
    REJECTED = "rejected"  # a permanent failure at this target
    RETRY = "retry"  # transient: the record comes back for this target
    POSTPONED = "postponed"  # no rate budget, or no time to call: not a failure
    NOT_APPLICABLE = "not_applicable"  # the provider cannot hold this number: nothing to call


@dataclass(frozen=True)
class TargetResult:
    optout: OptOut
    step: Step
    calls: int = 0
    answer: CallResult | None = None
    error: RelayError | None = None
    defer_for: float | None = None  # RETRY: a Retry-After too long to sleep on
    wait: float = 0.0  # POSTPONED: seconds until it may be tried
    reason: str | None = None  # POSTPONED: no_rate_budget, out_of_time
    # Settled by someone else: final in the ledger already (``known``), or another delivery
    # of the same target in this batch made the call. Nothing to write for it here.
    duplicate: bool = False
    known: Status | None = None


@dataclass
class ProviderCaller:
    clients: AccountClients
    secrets: SecretStore
    retry_policy: RetryPolicy
    metrics: OutcomeMetrics
    budget: RateBudget | None = None
    sleep: Callable[[float], None] = time.sleep
    # Provider calls in flight in this invocation (RECORD_CONCURRENCY), whatever the records.
    slots: threading.BoundedSemaphore | None = None

    def run(
        self, optout: OptOut, account: Account, remaining_seconds: Callable[[], float], *, waited: bool
    ) -> TargetResult:
        client = self.clients.client_for(account)
        calls = tries = 0
        refetch = refetched = False
        failure: TransientError | None = None  # the last transient failure in this invocation
        while True:
            if not self.retry_policy.call_fits(remaining_seconds()):
                return self._not_now(optout, calls, failure, wait=1, reason="out_of_time")
            try:
                # Credentials before the budget: nothing slow may sit between a grant and its
                # call, or the call could land outside the window the grant accounts for.
                credentials = self._credentials(client, account, refresh=refetch)
                refetch = False
                # The call's slot before its grant, for the same reason.
                with self.slots or nullcontext():
                    wait = self._budget_wait(account, waited=waited)
                    if wait > 0:
                        return self._not_now(optout, calls, failure, wait=wait, reason="no_rate_budget")
                    calls += 1
                    answer = self._call(client, account, optout, credentials, refetched=refetched)
            except CredentialsRejected:
                # A rotated key: fetch the secret again and go round once more, taking budget
                # for that call too.
                logger.warning("Provider refused the credentials; fetching the secret again")
                refetch = refetched = True
                continue
            except PermanentError as error:
                return TargetResult(optout, Step.REJECTED, calls, error=error)
            except TransientError as error:
                tries, failure = tries + 1, error
                self._shrink_budget_after(account, error)
                decision = self.retry_policy.decide(tries, error, remaining_seconds())
                if decision.delay is None:
                    return TargetResult(optout, Step.RETRY, calls, error=error, defer_for=decision.defer_for)
                logger.info(
                    "Transient failure; retrying in this invocation",
                    extra={
                        "target": mask_numbers(optout.short_target),
                        "error_code": error.code,
                        "http_status": error.http_status,
                        "delay": round(decision.delay, 2),
                    },
                )
                self.sleep(decision.delay)
                continue
            return TargetResult(optout, Step.ANSWERED, calls, answer=answer)

    def _not_now(
        self, optout: OptOut, calls: int, failure: TransientError | None, *, wait: float, reason: str
    ) -> TargetResult:
        """No budget or no time for the next call. Before any failure that is a postponement,
        which no receive limit counts; after one it is that failure's retry, which the receive
        limit does count: a target that fails on every delivery (a provider that is down, a
        wrong base URL) must reach its dead letter, never be postponed round and round. A 429
        is the provider's own budget speaking, not a failure: waiting after it is waiting."""
        if failure is None or failure.code == RATE_LIMITED:
            self.metrics.count(optout.provider, POSTPONED_METRIC[reason])
            return TargetResult(optout, Step.POSTPONED, calls, wait=wait, reason=reason)
        return TargetResult(optout, Step.RETRY, calls, error=failure, defer_for=wait)

    def _budget_wait(self, account: Account, *, waited: bool) -> float:
        if self.budget is None or account.max_rps is None:
            return 0.0
        try:
            return self.budget.take(account.id, account.max_rps, waited=waited)
        except TransientError as error:  # the budget store is down: wait rather than exceed the limit
            logger.warning("Rate budget unavailable; deferring", extra={"error_code": error.code})
            return 1.0

    def _shrink_budget_after(self, account: Account, error: TransientError) -> None:
        if error.code != RATE_LIMITED or self.budget is None or account.max_rps is None:
            return
        try:
            self.budget.shrink(
                account.id, RATE_LIMITED_FACTOR, max(RATE_LIMITED_SECONDS, error.retry_after or 0)
            )
        except TransientError:
            logger.warning("Could not shrink the rate budget after a 429")

    def _credentials(self, client: ProviderClient, account: Account, *, refresh: bool) -> Credentials:
        return client.credentials_from(self.secrets.get(account.secret_id, refresh=refresh))

    def _call(
        self,
        client: ProviderClient,
        account: Account,
        optout: OptOut,
        credentials: Credentials,
        *,
        refetched: bool,
    ) -> CallResult:
        """One provider call. A 401 with a freshly fetched secret is transient, not retried now."""
        started = time.monotonic()
        try:
            with provider_subsegment(client.name):
                return client.unsubscribe(optout.phone, optout.list_ref, credentials)
        except CredentialsRejected as error:
            if not refetched:
                raise
            raise TransientError(
                "unauthorized",
                f"{client.name} refused the credentials of account {account.id} even after fetching "
                f"{account.secret_id} again",
                http_status=error.http_status,
                retry_now=False,
            ) from None
        finally:
            self.metrics.latency(client.name, time.monotonic() - started)
