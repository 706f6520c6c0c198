"""Parsed stack traces, language-neutral."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SerializationInfo, SerializerFunctionWrapHandler, model_serializer, model_validator

from error_autopilot.domain import layout
from error_autopilot.domain.base import Frozen

Language = Literal["jvm", "python", "go", "node", "dotnet", "unknown"]


class Frame(Frozen):
    """One stack frame, innermost-call-first order is *not* assumed: see `StackTrace`."""

    function: str  # method/function name as printed, e.g. `placeOrder`, `handle`, `main.(*Svc).Get`
    module: str | None = None  # class (JVM/.NET), module (Python), package (Go), None when unknown
    file: str | None = None  # file path or name exactly as printed
    line: int | None = None
    in_app: bool = False  # belongs to the service's own code (packages / source roots)
    raw: str = ""  # the original line, for evidence

    @model_validator(mode="before")
    @classmethod
    def _from_array(cls, data: object) -> object:
        return layout.read_frame(data)

    @model_serializer(mode="wrap")
    def _as_array(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """An array under `layout.COMPACT` (a real stack has dozens of frames: their keys were half its bytes)."""
        if layout.compact(info.context):
            return layout.write_frame(self.__dict__)
        return handler(self)


class ExceptionInfo(Frozen):
    """One exception of a chain, with its frames ordered from the throwing frame outwards."""

    type: str  # `java.lang.IllegalStateException`, `KeyError`, `panic`, `TypeError`
    message: str = ""
    frames: tuple[Frame, ...] = ()
    omitted_frames: int = 0  # `... 3 more`, frames dropped by our caps


class StackTrace(Frozen):
    """A whole trace. `exceptions[0]` is the one that was thrown and logged; the rest are its causes
    in order (JVM `Caused by:`, Python `__cause__`/`__context__`). Frames of each exception start at
    the frame that raised (the top of a JVM trace, the *bottom* of a Python traceback)."""

    language: Language
    exceptions: tuple[ExceptionInfo, ...]
    truncated: bool = False  # the parser capped frames or exceptions

    @property
    def primary(self) -> ExceptionInfo:
        """The exception that was thrown."""
        return self.exceptions[0]

    @property
    def root_cause(self) -> ExceptionInfo:
        """The innermost cause."""
        return self.exceptions[-1]

    def in_app_frames(self) -> tuple[Frame, ...]:
        """In-app frames of every exception, throwing exception first."""
        return tuple(f for exc in self.exceptions for f in exc.frames if f.in_app)
