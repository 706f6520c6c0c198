"""A fake GitHub REST API on loopback for what error-autopilot uses: issues, comments, labels,
issue events, search, pulls and repository_dispatch — with GitHub's status codes, error bodies and
`Link` pagination, a search index that can lag or be rate limited, and pulls backed by real bare repos.
What a person does (close as completed or not planned, by a commit; reopen; merge a PR) is done
through `close`, `reopen` and `merge`, leaving the same issue fields and events GitHub leaves."""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response

Json = dict[str, Any]
BODY_LIMIT = 65_536


def _error(
    status: int, message: str, errors: list[Json] | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: Json = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors:
        body["errors"] = errors
    return Response.json(body, status, headers)


def _too_long() -> Response:
    """GitHub's answer to an issue body over 65,536 characters."""
    error = {"resource": "Issue", "code": "custom", "field": "body",
             "message": "body is too long (maximum is 65536 characters)"}  # fmt: skip
    return _error(422, "Validation Failed", [error])


# A run against the fake needs no spacing between GitHub requests (PyGithub waits 0.25 s per request, 1 s per write
# by default); the pacing itself is PyGithub's, not ours to test.
UNSPACED = {"AUTOPILOT_GITHUB_WRITE_INTERVAL": "0", "AUTOPILOT_GITHUB_REQUEST_INTERVAL": "0"}


class FakeGitHub:
    """State is public for assertions: issues[repo] (list), comments, labels, pulls, dispatches."""

    def __init__(self, repos: dict[str, Path | None] | None = None) -> None:
        self.repos: dict[str, Path | None] = dict(repos or {"acme/ops": None})  # name → backing bare repo
        self.issues: dict[str, list[Json]] = {r: [] for r in self.repos}
        self.comments: dict[tuple[str, int], list[str]] = {}
        self.labels: dict[str, set[str]] = {r: set() for r in self.repos}
        self.pulls: dict[str, list[Json]] = {r: [] for r in self.repos}
        self.dispatches: list[tuple[str, Json]] = []
        self.search_calls = 0
        self.search_lag = 0  # issues created less than this many searches ago are not found yet
        self.rate_limit_search = False
        self.rate_limit_next_create = 0  # answer this many issue creations with a secondary rate limit
        self.on_request: Callable[[Request], None] | None = None
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)  # a test's fixed clock, for updated_at
        self.events: dict[tuple[str, int], list[Json]] = {}  # issue events (closed, reopened, labeled)
        self.label_posts = 0  # POST /labels, successful or not: each is a paced write
        self._created_at_search: dict[tuple[str, int], int] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self.server = LoopbackServer(self._app)

    @property
    def url(self) -> str:
        """Base URL for `github.Github(base_url=...)`."""
        return self.server.url

    def __enter__(self) -> FakeGitHub:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # --- rendering -------------------------------------------------------------------------------
    def _issue_json(self, repo: str, issue: Json) -> Json:
        base = f"{self.url}/repos/{repo}/issues/{issue['number']}"
        return {
            **issue,
            "url": base,
            "html_url": f"https://github.com/{repo}/issues/{issue['number']}",
            "repository_url": f"{self.url}/repos/{repo}",
            "comments_url": f"{base}/comments",
            "labels": [{"name": n, "url": f"{self.url}/repos/{repo}/labels/{n}"} for n in issue["labels"]],
            "user": {"login": "error-autopilot[bot]", "id": 1},
            "comments": len(self.comments.get((repo, issue["number"]), [])),
        }

    def _stamp(self) -> str:
        return self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _event(self, repo: str, issue: Json, event: str, actor: str, **extra: object) -> None:
        """An entry of GET /issues/{n}/events, shaped as GitHub's state-change issue event."""
        number = issue["number"]
        ident = next(self._ids)
        self.events.setdefault((repo, number), []).append({
            "id": ident, "node_id": f"IE_{ident}", "url": f"{self.url}/repos/{repo}/issues/events/{ident}",
            "actor": {"login": actor, "id": 7, "type": "User"}, "event": event, "commit_id": None,
            "commit_url": None, "created_at": self._stamp(), "performed_via_github_app": None, **extra,
        })  # fmt: skip
        issue["updated_at"] = self._stamp()

    def _set_state(self, repo: str, issue: Json, state: str, reason: str | None, actor: str,
                   commit_id: str | None = None) -> None:  # fmt: skip
        if state == issue["state"]:
            return
        issue["state"] = state
        if state == "closed":
            issue["state_reason"], issue["closed_at"] = reason or "completed", self._stamp()
            commit = {"commit_id": commit_id, "commit_url": f"{self.url}/repos/{repo}/commits/{commit_id}"
                      if commit_id else None}  # fmt: skip
            self._event(repo, issue, "closed", actor, state_reason=issue["state_reason"], **commit)
        else:
            issue["state_reason"], issue["closed_at"] = "reopened", None
            self._event(repo, issue, "reopened", actor)

    def close(self, repo: str, number: int, *, reason: str = "completed", commit_id: str | None = None) -> None:
        """A person closes the issue (or a commit/PR saying "Fixes #n" does, when `commit_id` is given)."""
        with self._lock:
            issue = self._find_issue(repo, number)
            assert issue is not None
            self._set_state(repo, issue, "closed", reason, "octocat", commit_id)

    def reopen(self, repo: str, number: int) -> None:
        """A person reopens the issue."""
        with self._lock:
            issue = self._find_issue(repo, number)
            assert issue is not None
            self._set_state(repo, issue, "open", None, "octocat")

    def merge(self, repo: str, number: int, merge_commit_sha: str) -> None:
        """A person merges the pull request."""
        with self._lock:
            pull = next(p for p in self.pulls[repo] if p["number"] == number)
            pull.update({"state": "closed", "merged": True, "merged_at": self._stamp(),
                         "merge_commit_sha": merge_commit_sha})  # fmt: skip

    def _pull_json(self, repo: str, pull: Json) -> Json:
        return {
            **pull,
            "url": f"{self.url}/repos/{repo}/pulls/{pull['number']}",
            "html_url": f"https://github.com/{repo}/pull/{pull['number']}",
            "head": {"ref": pull["head"], "label": f"{repo.split('/', maxsplit=1)[0]}:{pull['head']}"},
            "base": {"ref": pull["base"]},
        }

    def _page(self, req: Request, items: list[Json]) -> Response:
        per_page = int(req.param("per_page") or 30)
        page = int(req.param("page") or 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={v[0]}" for k, v in req.query.items() if k != "page")
            headers["Link"] = f'<{self.url}{req.path}?{query}&page={page + 1}>; rel="next"'
        return Response.json(chunk, 200, headers)

    # --- routing -----------------------------------------------------------------------------------
    def _app(self, req: Request) -> Response | None:
        if self.on_request is not None:
            self.on_request(req)
        if not req.headers.get("authorization"):
            return _error(401, "Requires authentication")
        with self._lock:
            if req.path == "/search/issues" and req.method == "GET":
                return self._search(req)
            m = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", req.path)
            if not m:
                return None
            repo, rest = m.group(1), m.group(2) or ""
            if repo not in self.repos:
                return _error(404, "Not Found")
            return self._repo_route(req, repo, rest)

    def _repo_route(self, req: Request, repo: str, rest: str) -> Response | None:
        if rest == "" and req.method == "GET":
            owner, name = repo.split("/")
            return Response.json(
                {
                    "id": 1,
                    "name": name,
                    "full_name": repo,
                    "owner": {"login": owner},
                    "url": f"{self.url}/repos/{repo}",
                    "default_branch": "main",
                }
            )
        if rest == "/labels" and req.method == "POST":
            self.label_posts += 1
            name = req.json()["name"]
            if name in self.labels[repo]:
                return _error(
                    422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}]
                )
            self.labels[repo].add(name)
            return Response.json({"name": name, "url": f"{self.url}/repos/{repo}/labels/{name}"}, 201)
        if rest == "/issues":
            return self._create_issue(req, repo) if req.method == "POST" else self._list_issues(req, repo)
        if m := re.match(r"^/issues/(\d+)$", rest):
            return self._issue(req, repo, int(m.group(1)))
        if m := re.match(r"^/issues/(\d+)/events$", rest):
            if self._find_issue(repo, int(m.group(1))) is None:
                return _error(404, "Not Found")
            return self._page(req, self.events.get((repo, int(m.group(1))), []))
        if m := re.match(r"^/issues/(\d+)/comments$", rest):
            return self._comment(req, repo, int(m.group(1)))
        if m := re.match(r"^/issues/(\d+)/labels$", rest):
            issue = self._find_issue(repo, int(m.group(1)))
            if issue is None:
                return _error(404, "Not Found")
            data = req.json()
            added = data if isinstance(data, list) else data.get("labels", [])
            issue["labels"] = sorted({*issue["labels"], *(set(added) & self.labels[repo])})
            issue["updated_at"] = self._stamp()
            return Response.json([{"name": n} for n in issue["labels"]])
        if rest == "/pulls":
            return self._create_pull(req, repo) if req.method == "POST" else self._list_pulls(req, repo)
        if m := re.match(r"^/pulls/(\d+)$", rest):
            pull = next((p for p in self.pulls[repo] if p["number"] == int(m.group(1))), None)
            if pull is None:
                return _error(404, "Not Found")
            if req.method == "PATCH":
                pull.update({k: v for k, v in req.json().items() if k in ("title", "body", "state")})
            return Response.json(self._pull_json(repo, pull))
        if rest == "/dispatches" and req.method == "POST":
            return self._dispatch(req, repo)
        if rest == "/actions/runs" and req.method == "GET":
            return Response.json({"total_count": 0, "workflow_runs": []})
        return None

    # --- issues ------------------------------------------------------------------------------------
    def _find_issue(self, repo: str, number: int) -> Json | None:
        return next((i for i in self.issues[repo] if i["number"] == number), None)

    def _next_number(self, repo: str) -> int:
        return len(self.issues[repo]) + len(self.pulls[repo]) + 1

    def _create_issue(self, req: Request, repo: str) -> Response:
        if self.rate_limit_next_create:
            self.rate_limit_next_create -= 1
            return _error(
                403,
                "You have exceeded a secondary rate limit and have been temporarily blocked from "
                "content creation. Please retry your request again later.",
                headers={"Retry-After": "3"},
            )
        data = req.json()
        if len(data.get("body") or "") > BODY_LIMIT:
            return _too_long()
        issue = {
            "id": next(self._ids),
            "number": self._next_number(repo),
            "title": data["title"],
            "body": data.get("body") or "",
            "state": "open",
            "state_reason": None,
            "closed_at": None,
            "created_at": self._stamp(),
            "updated_at": self._stamp(),
            "labels": sorted(set(data.get("labels") or []) & self.labels[repo]),
        }  # unknown labels are dropped
        self.issues[repo].append(issue)
        self._created_at_search[(repo, issue["number"])] = self.search_calls
        return Response.json(self._issue_json(repo, issue), 201)

    def _list_issues(self, req: Request, repo: str) -> Response:
        state = req.param("state") or "open"
        wanted = set(filter(None, (req.param("labels") or "").split(",")))
        since = req.param("since")  # GitHub: only issues updated at or after this time
        after = datetime.fromisoformat(since) if since else None
        items = [
            self._issue_json(repo, i)
            for i in self.issues[repo]
            if (state == "all" or i["state"] == state) and wanted <= set(i["labels"])
            and (after is None or datetime.fromisoformat(i["updated_at"]) >= after)
        ]  # fmt: skip
        return self._page(req, items)

    def _issue(self, req: Request, repo: str, number: int) -> Response:
        issue = self._find_issue(repo, number)
        if issue is None:
            return _error(404, "Not Found")
        if req.method == "PATCH":
            data = req.json()
            if len(data.get("body") or "") > BODY_LIMIT:
                return _too_long()
            for key in ("title", "body"):
                if key in data:
                    issue[key] = data[key]
            if "state" in data:
                self._set_state(repo, issue, data["state"], data.get("state_reason"), "error-autopilot[bot]")
            issue["updated_at"] = self._stamp()
            if "labels" in data:
                issue["labels"] = sorted(set(data["labels"]) & self.labels[repo])
        return Response.json(self._issue_json(repo, issue))

    def _comment(self, req: Request, repo: str, number: int) -> Response:
        if self._find_issue(repo, number) is None:
            return _error(404, "Not Found")
        if req.method == "POST":
            body = req.json()["body"]
            self.comments.setdefault((repo, number), []).append(body)
            issue = self._find_issue(repo, number)
            if issue is not None:
                issue["updated_at"] = self._stamp()
            return Response.json({"id": next(self._ids), "body": body, "url": f"{self.url}/x"}, 201)
        return Response.json([{"id": 1, "body": b} for b in self.comments.get((repo, number), [])])

    def _search(self, req: Request) -> Response:
        self.search_calls += 1
        if self.rate_limit_search:
            return _error(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                headers={"Retry-After": "60"},
            )
        q = req.param("q") or ""
        if len(q) > 256:
            error = {"resource": "Search", "field": "q", "code": "invalid",
                     "message": "The search is longer than 256 characters."}  # fmt: skip
            return _error(422, "Validation Failed", [error])
        repo = (re.search(r"repo:(\S+)", q) or [None, None])[1]
        labels = re.findall(r"label:(\S+)", q)
        phrases = re.findall(r'"([^"]+)"', q)
        items = []
        for name, issues in self.issues.items():
            if repo and name != repo:
                continue
            for i in issues:
                if self._created_at_search.get((name, i["number"]), -1) + self.search_lag >= self.search_calls:
                    continue  # not indexed yet
                if set(labels) <= set(i["labels"]) and all(p in i["body"] for p in phrases):
                    items.append(self._issue_json(name, i))
        return Response.json({"total_count": len(items), "incomplete_results": False, "items": items})

    # --- pulls and dispatch ----------------------------------------------------------------------------
    def _branch_exists(self, repo: str, branch: str) -> bool:
        bare = self.repos[repo]
        if bare is None:
            return False
        out = subprocess.run(
            ["git", "--git-dir", str(bare), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            check=False,
        )
        return out.returncode == 0

    def _create_pull(self, req: Request, repo: str) -> Response:
        data = req.json()
        head = data["head"].split(":")[-1]
        if not self._branch_exists(repo, head):
            return _error(422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        if any(p["head"] == head and p["state"] == "open" for p in self.pulls[repo]):
            return _error(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.split('/', maxsplit=1)[0]}:{head}.",
                    }
                ],
            )
        pull = {
            "id": next(self._ids),
            "number": self._next_number(repo),
            "title": data["title"],
            "body": data.get("body") or "",
            "state": "open",
            "draft": bool(data.get("draft")),
            "merged_at": None,
            "merge_commit_sha": None,
            "head": head,
            "base": data["base"],
            "merged": False,
        }
        self.pulls[repo].append(pull)
        return Response.json(self._pull_json(repo, pull), 201)

    def _list_pulls(self, req: Request, repo: str) -> Response:
        head = (req.param("head") or "").split(":")[-1]
        state = req.param("state") or "open"
        items = [
            self._pull_json(repo, p)
            for p in self.pulls[repo]
            if (not head or p["head"] == head) and (state == "all" or p["state"] == state)
        ]
        return self._page(req, items)

    def _dispatch(self, req: Request, repo: str) -> Response:
        data = req.json()
        event_type, payload = data.get("event_type") or "", data.get("client_payload") or {}
        if not isinstance(payload, dict) or len(payload) > 10:
            size = len(payload) if isinstance(payload, dict) else 0
            return _error(422, f"Invalid request.\n\nNo more than 10 properties are allowed; {size} were supplied.")
        if not 1 <= len(event_type) <= 100:
            return _error(422, "Invalid request.\n\nevent_type is too long (maximum is 100 characters).")
        self.dispatches.append((event_type, payload))
        return Response(204)
