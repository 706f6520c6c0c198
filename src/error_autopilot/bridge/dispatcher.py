"""GitHub `repository_dispatch` (start a run) and the latest workflow runs (`/status`), over httpx.

`POST /repos/{o}/{r}/dispatches` answers 204; `event_type` is at most 100 characters and
`client_payload` at most 10 top-level keys — checked here before GitHub would answer 422.
"""

from __future__ import annotations

import logging
import re

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from error_autopilot.domain.dispatch import DispatchPayload
from error_autopilot.domain.errors import BridgeError, SourceError
from error_autopilot.sources.http import RetryPolicy, send_with_retry

log = logging.getLogger(__name__)

REPO_RE = re.compile(r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$")
EVENT_TYPE_LIMIT = 100
PAYLOAD_KEYS_LIMIT = 10


class WorkflowRun(BaseModel):
    """One row of `GET /repos/{o}/{r}/actions/runs`."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # GitHub's run objects have ~40 fields

    name: str | None = None
    status: str | None = None
    conclusion: str | None = None
    event: str | None = None
    html_url: str
    created_at: str | None = None


def github_client(api_url: str, token: str) -> httpx.Client:
    """An httpx client for GitHub's REST API with the bearer token and API version set."""
    return httpx.Client(
        base_url=api_url.rstrip("/"),
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "error-autopilot-bridge",
        },
        timeout=httpx.Timeout(30.0),
    )


class GitHubDispatcher:
    """Fires repository_dispatch events at one repository."""

    def __init__(
        self, client: httpx.Client, repo: str, *, web_url: str = "https://github.com", retry: RetryPolicy | None = None
    ) -> None:
        if not REPO_RE.match(repo):
            raise BridgeError(f"repository {repo!r} is not owner/name")
        self._client = client
        self.repo = repo
        self._web_url = web_url.rstrip("/")
        self._retry = retry or RetryPolicy(deadline_s=30.0, max_attempts=3)

    @property
    def runs_page(self) -> str:
        """Where a person sees the runs a dispatch starts."""
        return f"{self._web_url}/{self.repo}/actions"

    def dispatch(self, event_type: str, payload: DispatchPayload) -> None:
        """Send one repository_dispatch; raises BridgeError when GitHub refuses or is unreachable."""
        client_payload = payload.model_dump(exclude_none=True)
        if not 0 < len(event_type) <= EVENT_TYPE_LIMIT or len(client_payload) > PAYLOAD_KEYS_LIMIT:
            raise BridgeError(f"dispatch {event_type!r} breaks GitHub's limits (event_type ≤ 100, ≤ 10 keys)")
        request = self._client.build_request(
            "POST", f"/repos/{self.repo}/dispatches", json={"event_type": event_type, "client_payload": client_payload}
        )
        try:
            send_with_retry(self._client, request, what="GitHub repository_dispatch", policy=self._retry)
        except SourceError as e:
            raise BridgeError(f"repository_dispatch to {self.repo} failed: {e.message}", hint=_hint(e.status)) from e
        log.info("dispatched %s to %s: %s", event_type, self.repo, sorted(client_payload))

    def recent_runs(self, limit: int = 5) -> list[WorkflowRun]:
        """The newest workflow runs of the repository."""
        request = self._client.build_request("GET", f"/repos/{self.repo}/actions/runs", params={"per_page": limit})
        try:
            response = send_with_retry(self._client, request, what="GitHub actions/runs", policy=self._retry)
            runs = response.json().get("workflow_runs", [])
            return [WorkflowRun.model_validate(r) for r in runs[:limit]]
        except SourceError as e:
            raise BridgeError(f"listing runs of {self.repo} failed: {e.message}", hint=_hint(e.status)) from e
        except (ValueError, AttributeError, ValidationError) as e:
            raise BridgeError(f"listing runs of {self.repo}: unexpected answer: {e}") from e


def _hint(status: int | None) -> str | None:
    if status in {401, 403}:
        return "the GitHub token needs Contents: write (fine-grained) or repo scope on this repository"
    if status == 404:
        return "the repository does not exist or the token cannot see it"
    if status == 422:
        return "GitHub rejected the payload (event_type ≤ 100 characters, ≤ 10 client_payload keys)"
    return None
