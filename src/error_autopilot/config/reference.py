"""The service map described for people and tools: its JSON Schema and the README's Markdown reference,
both generated from the models in `service_map.py`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from error_autopilot.config.service_map import (
    Auth,
    AutoFixPolicy,
    Budget,
    Environment,
    GrafanaLinks,
    Lifecycle,
    LokiConfig,
    Policy,
    Redaction,
    Service,
    ServiceMap,
    Telegram,
    TempoConfig,
)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of service-map.json, generated from the models."""
    schema = ServiceMap.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "error-autopilot service map"
    return schema


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("error_autopilot.config.service_map.", "")
    for noise in ("<class '", "'>", "Annotated[", ", FieldInfo"):
        text = text.replace(noise, "")
    return text.split(", Field")[0].split("[FieldInfo")[0].rstrip("]") if "Annotated" in str(annotation) else text


def config_reference() -> str:
    """The configuration reference as Markdown tables, one per model, generated from the models."""
    sections = []
    for model in (ServiceMap, Environment, LokiConfig, TempoConfig, Auth, GrafanaLinks, Service, Policy,
                  AutoFixPolicy, Budget, Redaction, Telegram, Lifecycle):  # fmt: skip
        rows = [f"#### `{model.__name__}`", "", (model.__doc__ or "").strip(), "",
                "| field | type | default | meaning |", "|---|---|---|---|"]  # fmt: skip
        for name, field in model.model_fields.items():
            key = field.alias or name
            value = None if field.is_required() else field.get_default(call_default_factory=True)
            default = "required" if field.is_required() else f"`{json.dumps(value, default=str)}`"
            if isinstance(field.default, BaseModel):
                default = "see below"
            default = default.replace("|", "\\|")
            doc = (field.description or "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| `{key}` | {_type_name(field.annotation).replace('|', 'or')} | {default} | {doc} |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections) + "\n"
