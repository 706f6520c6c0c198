"""The request a dispatch carries (repository_dispatch client_payload or workflow_dispatch inputs).

Validated as data, never interpolated anywhere: names are restricted to safe characters so a
hostile payload is refused with a clear message rather than carried further."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class DispatchPayload(BaseModel):
    """What a dispatch may ask for; every field optional, at most 10 keys (GitHub's limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Annotated[str | None, Field(pattern=_NAME)] = None
    service: Annotated[str | None, Field(pattern=_NAME)] = None
    trace_id: Annotated[str | None, Field(pattern=r"^[0-9a-fA-F]{16,32}$")] = None
    since: Annotated[str | None, Field(pattern=r"^(\d{1,4}[smhdw]){1,3}$")] = None
    text: Annotated[str | None, Field(max_length=4096)] = None  # the alert text, kept as evidence only

    @field_validator("trace_id")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower().rjust(32, "0") if v else v
