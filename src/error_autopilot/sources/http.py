"""Reads over HTTP with retries: transport errors, 429 (honouring Retry-After) and 5xx, under a
total deadline that never outlasts the run's own. Other 4xx fail fast with the server's own error
text. A refused connection or an unknown host is a verdict at once, not retried until the deadline:
a server that is not listening rarely starts within seconds, and the run's breaker then skips it."""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import ssl
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from error_autopilot.domain.errors import SourceRejected, SourceUnavailable
from error_autopilot.resilience import Breaker, Deadline

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """How hard to try. `sleep`/`clock` are injectable so tests do not wait."""

    deadline_s: float = 60.0
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 15.0
    connect_attempts: int = 1  # connection refused / DNS failure is a verdict, not a hiccup
    run_deadline: Deadline | None = field(default=None, repr=False)  # the run's: retries never outlast it
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_text(response: httpx.Response, limit: int = 500) -> str:
    text = response.text.strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def send_with_retry(
    client: httpx.Client,
    request: httpx.Request,
    *,
    what: str,
    policy: RetryPolicy | None = None,
    accept_status: Collection[int] = (),
    breaker: Breaker | None = None,
) -> httpx.Response:
    """Send `request`, retrying what is worth retrying. Returns a 2xx response or one whose status is
    in `accept_status` (e.g. Tempo's 404 = trace not found). Raises SourceRejected on other 4xx and
    SourceUnavailable when retries or the deadline run out — which also opens `breaker`, so later
    calls fail at once. `what` names the source in messages."""
    policy = policy or RetryPolicy()
    url = str(request.url.copy_with(query=None))
    if breaker is not None and (cause := breaker.skip()) is not None:
        raise SourceUnavailable(f"{what} skipped: unavailable earlier in this run ({cause})", url=url)
    try:
        return _send(client, request, what=what, policy=policy, accept_status=accept_status, url=url)
    except SourceUnavailable as e:
        if breaker is not None:
            breaker.trip(e.message)
        raise


def _send(
    client: httpx.Client, request: httpx.Request, *, what: str, policy: RetryPolicy, accept_status: Collection[int],
    url: str,
) -> httpx.Response:  # fmt: skip
    started = policy.clock()
    last_problem = "no attempt made"
    connect_failures = 0
    for attempt in range(1, policy.max_attempts + 1):
        delay: float | None = None
        if policy.run_deadline is not None:  # no single wait may outlast the run
            left = max(1.0, policy.run_deadline.remaining())
            request.extensions["timeout"] = httpx.Timeout(min(left, client.timeout.read or left)).as_dict()
        try:
            response = client.send(request)
        except httpx.TransportError as e:
            last_problem = f"{type(e).__name__}: {e}"
            connect_failures += isinstance(e, httpx.ConnectError)
        else:
            status = response.status_code
            if status < 300 or status in accept_status:
                return response
            if status not in RETRYABLE_STATUS:
                raise SourceRejected(
                    f"{what} refused the request: HTTP {status}: {_error_text(response)}",
                    url=url,
                    status=status,
                    hint=_hint_for(status),
                )
            last_problem = f"HTTP {status}: {_error_text(response, 200)}"
            delay = retry_after_seconds(response.headers.get("Retry-After"))
        if delay is None:
            delay = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
            delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not crypto
        remaining = policy.deadline_s - (policy.clock() - started)
        if policy.run_deadline is not None:
            remaining = min(remaining, policy.run_deadline.remaining())
        if attempt == policy.max_attempts or connect_failures >= policy.connect_attempts or delay > remaining:
            break
        log.warning("%s: %s; retry %d in %.1fs", what, last_problem, attempt, delay)
        policy.sleep(delay)
    raise SourceUnavailable(
        f"{what} is unavailable after {attempt} attempt(s) in {policy.clock() - started:.1f}s: {last_problem}",
        url=url,
        hint="the cursor was not moved; the next run reads the same window again" if what == "Loki" else None,
    )


def _hint_for(status: int) -> str | None:
    if status == 401:
        return "check the auth settings and, for multi-tenant servers, org_id (X-Scope-OrgID)"
    if status == 403:
        return "the credentials are valid but lack permission for this tenant or endpoint"
    if status == 400:
        return "the query or its parameters were rejected; the server's message says why"
    return None


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: loading the CA bundle costs tens of
    milliseconds per client, and a context is safe to share between clients and threads."""
    return httpx.create_ssl_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR like httpx's own default


def build_client(
    base_url: str,
    *,
    org_id: str | None,
    bearer: str | None = None,
    basic: tuple[str, str] | None = None,
    timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for Loki/Tempo: base URL, tenant header and auth in one place."""
    headers = {"User-Agent": "error-autopilot", "Accept": "application/json"}
    if org_id:
        headers["X-Scope-OrgID"] = org_id
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers=headers,
        auth=httpx.BasicAuth(*basic) if basic else None,
        timeout=httpx.Timeout(timeout_s),
        transport=transport,
        verify=_tls(),
        follow_redirects=False,
    )
