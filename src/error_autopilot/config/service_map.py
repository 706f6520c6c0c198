"""service-map.json: environments (Loki/Tempo), services → repos, and the auto-fix policy.

Secrets are never in the file; it names the environment variables that hold them. Field names
follow the design card's sketch: users' files depend on them (extend, never rename).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import re2  # type: ignore[import-untyped]  # RE2 itself: the syntax Loki's `|~` accepts
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from error_autopilot.domain.errors import ConfigError

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _http_url(value: str, *, also: frozenset[str] = frozenset()) -> str:
    """An absolute http(s) URL with a host (or a scheme in `also`), or a ValueError saying what one looks like."""
    try:
        parts = urlsplit(value)
        if parts.scheme in also:
            valid = bool(parts.path or parts.netloc)
        else:
            port_ok = parts.port is None or parts.port > 0
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname) and port_ok
    except ValueError:  # an unparsable port or IPv6 literal
        valid = False
    if not valid or any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not an http(s) URL; write it like http://loki.internal:3100")
    return value


def _re2_pattern(value: str) -> str:
    """A regex RE2 accepts (Loki compiles line filters with Go's RE2: no look-around, no backreferences)."""
    options = re2.Options()
    options.log_errors = False  # the error is raised to us; RE2 must not also print it to stderr
    try:
        re2.compile(value, options=options)
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ValueError(f"{value!r} is not an RE2 regex Loki accepts: {reason}") from e
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Auth(_Model):
    """How to authenticate; every secret is the *name* of an environment variable."""

    bearer_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None
    """Variable holding a bearer token (`Authorization: Bearer …`)."""
    username: str | None = None
    """Basic-auth user, not secret (Grafana Cloud: the numeric stack/tenant id)."""
    username_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None
    """Variable holding the basic-auth user, when it should not sit in the file."""
    password_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None
    """Variable holding the basic-auth password or access-policy token."""

    @model_validator(mode="after")
    def _one_scheme(self) -> Auth:
        basic = self.password_env is not None
        if self.bearer_env and basic:
            raise ValueError("use either bearer_env or username/password_env, not both")
        if (self.username or self.username_env) and not basic:
            raise ValueError("basic auth needs password_env")
        return self


class LokiConfig(_Model):
    """One environment's Loki."""

    url: str
    """Base URL, e.g. `http://loki:3100`, or `{grafana}/api/datasources/proxy/uid/{uid}` behind Grafana."""
    org_id: str | None = None
    """Tenant sent as `X-Scope-OrgID`; omit for single-tenant Loki."""
    auth: Auth = Auth()
    """Credentials (variable names only)."""
    selector: str
    """LogQL stream selector of this environment's logs, e.g. `{deployment_environment="prod"}`."""
    line_filter: str = "(?i)(error|exception|panic|fatal|traceback)"
    """RE2 regex applied with `|~` so only candidate error lines leave Loki."""
    level_labels: tuple[str, ...] = ("level", "detected_level", "severity", "severity_text")
    """Labels that carry the log level."""
    page_limit: Annotated[int, Field(ge=1, le=5000)] = 5000
    """Entries per `query_range` page (Loki's default server cap, `max_entries_limit_per_query`, is 5000)."""
    max_pages: Annotated[int, Field(ge=1)] = 1000
    """Pages per run (5 million lines at 5000 a page: a storm of a million lines per half hour, with room to
    catch up); beyond it the run reports the window as truncated and resumes next run."""
    rejoin_queries: Annotated[int, Field(ge=0, le=10_000)] = 100
    """Stack traces a shipper split into one entry per line (no multiline stage) are put back together
    from their stream's neighbouring lines: at most this many such reads a run (a trace shaped like one
    already rejoined costs none); 0 turns it off."""
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Timeout of one HTTP request."""
    deadline_s: Annotated[float, Field(gt=0)] = 300.0
    """Total time for polling this environment, retries included."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("line_filter")
    @classmethod
    def _line_filter(cls, v: str) -> str:
        return _re2_pattern(v)

    @field_validator("selector")
    @classmethod
    def _selector_shape(cls, v: str) -> str:
        if not (v.strip().startswith("{") and v.strip().endswith("}")):
            raise ValueError('must be a LogQL stream selector like {service_name="api"}')
        return v.strip()


class TempoConfig(_Model):
    """One environment's Tempo."""

    url: str
    """Base URL, e.g. `http://tempo:3200`."""
    org_id: str | None = None
    """Tenant sent as `X-Scope-OrgID` (only when Tempo multi-tenancy is on)."""
    auth: Auth = Auth()
    """Credentials (variable names only)."""
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Timeout of one HTTP request."""
    max_spans: Annotated[int, Field(ge=1)] = 2000
    """Spans kept per trace; larger traces are capped and the finding says so."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)


class GrafanaLinks(_Model):
    """Where Grafana Explore links point (built from config, never guessed)."""

    url: str
    """Grafana root URL, e.g. `https://grafana.example.com`."""
    loki_datasource_uid: str | None = None
    """UID of the Loki data source, for Explore links to the query."""
    tempo_datasource_uid: str | None = None
    """UID of the Tempo data source, for Explore links to traces."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)


class Environment(_Model):
    """A deployment environment: where its logs and traces live and what may be done there."""

    loki: LokiConfig
    """Where this environment's logs are."""
    tempo: TempoConfig | None = None
    """Where its traces are (optional: without it the culprit is the service that logged)."""
    grafana: GrafanaLinks | None = None
    """Grafana Explore links in issues (optional)."""
    telegram_chat: str | None = None
    """Telegram chat id for this environment's notifications (optional)."""
    auto_fix: bool = False
    """Whether draft fix PRs may be proposed for incidents of this environment."""
    overlap_s: Annotated[int, Field(ge=0)] = 300
    """Re-read this much behind the cursor, for lines that reach Loki late."""
    initial_lookback_s: Annotated[int, Field(ge=60)] = 3600
    """How far back the very first run looks."""


class Service(_Model):
    """A service and the repository its code lives in."""

    repo: str
    """`owner/name` on GitHub (or GHES), or any git URL or local path."""
    branch: str = "main"
    """Branch deployed from; used when the deployed version cannot be matched."""
    source_roots: tuple[str, ...] = ()
    """Source folders, e.g. `src/main/kotlin` (JVM) or `src` (Python)."""
    packages: tuple[str, ...] = ()
    """In-app package prefixes (`com.acme.user`, `order_service`, `github.com/acme/x`): frames outside are library."""
    aliases: tuple[str, ...] = ()
    """Other names the service logs under."""
    test_command: str | None = None
    """Command that must pass before a fix PR is proposed, e.g. `./gradlew test`."""
    test_timeout_s: Annotated[int, Field(ge=1)] = 600
    """Time limit of `test_command`."""
    issue_repo: str | None = None
    """File this service's issues in another repository than `repo`."""
    tag_pattern: str | None = None
    """How a deployed version maps to a tag, e.g. `v{version}`."""

    @field_validator("repo")
    @classmethod
    def _repo_shape(cls, v: str) -> str:
        if not v or v.strip() != v:
            raise ValueError("must be owner/name, a git URL or a path")
        return v


class AutoFixPolicy(_Model):
    """When a draft PR may be proposed. Enforced in code by `decisions/policy.py`."""

    kinds: tuple[str, ...] = ("null-check", "validation", "typo", "config")
    """Fix kinds that may become PRs."""
    max_files: Annotated[int, Field(ge=0)] = 1
    """Most files a fix may touch."""
    max_changed_lines: Annotated[int, Field(ge=0)] = 20
    """Most added plus removed lines."""
    deny_paths: tuple[str, ...] = (".github/**", "**/auth/**")
    """Globs a fix may never touch, on top of the built-in list (CI, build, dependency, auth, crypto, migrations)."""
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.7
    """Least confidence of the analysis for a PR."""
    max_prs_per_run: Annotated[int, Field(ge=0)] = 3
    """Most PRs opened or updated in one run."""


class Budget(_Model):
    """LLM spend limits."""

    tokens_per_incident: Annotated[int, Field(ge=0)] = 60_000
    """Tokens one incident's analysis may use."""
    tokens_per_run: Annotated[int, Field(ge=0)] = 400_000
    """Tokens one run may use."""
    tokens_per_day: Annotated[int, Field(ge=0)] = 2_000_000
    """Tokens per UTC day, counted in state across runs."""
    turns_per_incident: Annotated[int, Field(ge=1)] = 12
    """Model turns per incident; on the last one tools are withheld."""
    seconds_per_incident: Annotated[float, Field(gt=0)] = 180.0
    """Wall time per incident's analysis."""


class Policy(_Model):
    """What the tool is allowed to do."""

    auto_fix: AutoFixPolicy = AutoFixPolicy()
    """The auto-fix rules."""
    budget: Budget = Budget()
    """LLM budgets."""
    max_incidents_per_run: Annotated[int, Field(ge=1)] = 50
    """Incidents investigated and published per run; the rest stay pending for the next run."""
    max_pending: Annotated[int, Field(ge=1)] = 2000
    """Incidents kept pending in state at most (some 40 runs of 50): beyond, the newest are dropped, counted in
    the run report, and planned again when they recur."""


class Redaction(_Model):
    """Extra secret patterns on top of the built-in ones."""

    patterns: tuple[str, ...] = ()
    """Python regexes; a match is replaced by `[REDACTED:custom-N]` everywhere text leaves the runner."""

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r} does not compile: {e}") from e
        return v


class Telegram(_Model):
    """Notifier options."""

    silent_hours: tuple[int, int] | None = None
    """`[22, 7]`: between 22:00 and 07:00 UTC messages are sent without sound."""


class Lifecycle(_Model):
    """Following an issue after it is filed: fixes, deployed versions, verification, the digest."""

    quiet_period_h: Annotated[float, Field(gt=0)] = 24
    """Hours a version containing the fix must run, its logs read, without the error before the issue
    gets one "verified fixed" comment."""
    digest_every_days: Annotated[int, Field(ge=0)] = 7
    """Days between two digest sections in the job summary (open incidents, fixed, verified, regressed); 0: never."""


class ServiceMap(_Model):
    """The whole service-map.json."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    schema_: str | None = Field(default=None, alias="$schema")
    """Path or URL of the JSON Schema, for editors."""
    environments: dict[str, Environment]
    """Environments by name (`prod`, `staging`, …)."""
    services: dict[str, Service]
    """Services by the name they log under."""
    policy: Policy = Policy()
    """Auto-fix policy and budgets."""
    redaction: Redaction = Redaction()
    """Your own secret patterns."""
    telegram: Telegram = Telegram()
    """Notifier options."""
    lifecycle: Lifecycle = Lifecycle()
    """Fix tracking, verification and the digest."""
    github_url: str = "https://github.com"
    """Web URL for permalinks (GHES: `https://ghe.example.com`)."""

    @field_validator("github_url")
    @classmethod
    def _github_url(cls, v: str) -> str:
        return _http_url(v, also=frozenset({"file"}))  # file://: a local mirror of the repositories

    @model_validator(mode="after")
    def _aliases_unique(self) -> ServiceMap:
        if not self.environments:
            raise ValueError("environments: at least one environment is required")
        seen: dict[str, str] = {}
        for name, svc in self.services.items():
            for alias in (name, *svc.aliases):
                if alias in seen and seen[alias] != name:
                    raise ValueError(f"services.{name}: alias {alias!r} is already used by {seen[alias]}")
                seen[alias] = name
        return self

    def resolve_service(self, name: str) -> str | None:
        """The canonical service name for a logged name or alias."""
        if name in self.services:
            return name
        for canonical, svc in self.services.items():
            if name in svc.aliases:
                return canonical
        return None


def format_validation_error(err: ValidationError) -> str:
    """One readable line per problem: `services.order-service.repo: field required`."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        msg = "field required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def parse_service_map(data: Any, source: str = "service-map.json") -> ServiceMap:
    """Validate already-decoded JSON."""
    try:
        return ServiceMap.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            f"{source} is invalid:\n{format_validation_error(e)}",
            hint="see the configuration reference in README.md or service-map.schema.json",
        ) from e


def load_service_map(path: Path) -> ServiceMap:
    """Read and validate a service map file; every problem is a ConfigError (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from e
    return parse_service_map(data, str(path))
