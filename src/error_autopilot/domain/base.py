"""Base model for every value that crosses a stage boundary."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable, strict-about-extras model: stages exchange these, never mutate them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
