"""service-map.json: environments (Loki/Tempo), services → repos, and the auto-fix policy.

Secrets are never in the file; it names the environment variables that hold them. Field names
follow the design card's sketch: users' files depend on them (extend, never rename).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from error_autopilot.domain.errors import ConfigError

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Auth(_Model):
    """How to authenticate; every secret is the *name* of an environment variable."""

    bearer_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None  # Authorization: Bearer $X
    username: str | None = None  # basic auth user, not secret (Grafana Cloud: the numeric tenant id)
    username_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None
    password_env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None  # basic auth password/token

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

    url: str  # base URL, e.g. http://loki:3100 or {grafana}/api/datasources/proxy/uid/{uid}
    org_id: str | None = None  # X-Scope-OrgID; omit for single-tenant Loki
    auth: Auth = Auth()
    selector: str  # stream selector, e.g. {deployment_environment="dev"}
    line_filter: str = "(?i)(error|exception|panic|fatal|traceback)"  # RE2, applied with |~
    level_labels: tuple[str, ...] = ("level", "detected_level", "severity", "severity_text")
    page_limit: Annotated[int, Field(ge=1, le=5000)] = 1000
    max_pages: Annotated[int, Field(ge=1)] = 200
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    deadline_s: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("selector")
    @classmethod
    def _selector_shape(cls, v: str) -> str:
        if not (v.strip().startswith("{") and v.strip().endswith("}")):
            raise ValueError('must be a LogQL stream selector like {service_name="api"}')
        return v.strip()


class TempoConfig(_Model):
    """One environment's Tempo."""

    url: str
    org_id: str | None = None
    auth: Auth = Auth()
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_spans: Annotated[int, Field(ge=1)] = 2000


class GrafanaLinks(_Model):
    """Where Grafana Explore links point (built from config, never guessed)."""

    url: str  # https://grafana.example.com
    loki_datasource_uid: str | None = None
    tempo_datasource_uid: str | None = None


class Environment(_Model):
    """A deployment environment: where its logs and traces live and what may be done there."""

    loki: LokiConfig
    tempo: TempoConfig | None = None
    grafana: GrafanaLinks | None = None
    telegram_chat: str | None = None
    auto_fix: bool = False
    overlap_s: Annotated[int, Field(ge=0)] = 300  # re-read this much behind the cursor (late lines)
    initial_lookback_s: Annotated[int, Field(ge=60)] = 3600  # first run without a cursor


class Service(_Model):
    """A service and the repository its code lives in."""

    repo: str  # owner/name on GitHub (or GHES), or any git URL / local path
    branch: str = "main"
    source_roots: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # in-app module/package prefixes (com.acme.user, app., github.com/acme/x)
    aliases: tuple[str, ...] = ()  # other names the service logs under
    test_command: str | None = None
    test_timeout_s: Annotated[int, Field(ge=1)] = 600
    issue_repo: str | None = None  # file issues here instead of `repo`
    tag_pattern: str | None = None  # e.g. "v{version}" to map a deployed version to a tag

    @field_validator("repo")
    @classmethod
    def _repo_shape(cls, v: str) -> str:
        if not v or v.strip() != v:
            raise ValueError("must be owner/name, a git URL or a path")
        return v


class AutoFixPolicy(_Model):
    """When a draft PR may be proposed. Enforced in code by decisions/policy.py."""

    kinds: tuple[str, ...] = ("null-check", "validation", "typo", "config")
    max_files: Annotated[int, Field(ge=0)] = 1
    max_changed_lines: Annotated[int, Field(ge=0)] = 20
    deny_paths: tuple[str, ...] = (".github/**", "**/auth/**")
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.7
    max_prs_per_run: Annotated[int, Field(ge=0)] = 3


class Budget(_Model):
    """LLM spend limits."""

    tokens_per_incident: Annotated[int, Field(ge=0)] = 60_000
    tokens_per_run: Annotated[int, Field(ge=0)] = 400_000
    tokens_per_day: Annotated[int, Field(ge=0)] = 2_000_000
    turns_per_incident: Annotated[int, Field(ge=1)] = 12
    seconds_per_incident: Annotated[float, Field(gt=0)] = 180.0


class Policy(_Model):
    """What the tool is allowed to do."""

    auto_fix: AutoFixPolicy = AutoFixPolicy()
    budget: Budget = Budget()
    max_incidents_per_run: Annotated[int, Field(ge=1)] = 50


class Redaction(_Model):
    """Extra secret patterns (Python regexes) on top of the built-in ones."""

    patterns: tuple[str, ...] = ()

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

    silent_hours: tuple[int, int] | None = None  # (22, 7): send without sound between 22:00 and 07:00 UTC


class ServiceMap(_Model):
    """The whole service-map.json."""

    schema_: str | None = Field(default=None, alias="$schema")
    environments: dict[str, Environment]
    services: dict[str, Service]
    policy: Policy = Policy()
    redaction: Redaction = Redaction()
    telegram: Telegram = Telegram()
    github_url: str = "https://github.com"  # web URL for permalinks (GHES: https://ghe.example.com)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of service-map.json, generated from the models."""
    schema = ServiceMap.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "error-autopilot service map"
    return schema
