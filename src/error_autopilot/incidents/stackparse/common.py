"""What every language parser shares: caps, in-app marking and the exception builder.

Caps keep hostile input cheap: a parser never builds more than `MAX_FRAMES` frames per exception
or keeps more than `MAX_EXCEPTIONS` exceptions, and `parse_stacktrace` cuts every line at `MAX_LINE`
characters before any pattern sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from error_autopilot.domain.stack import ExceptionInfo, Frame, Language, StackTrace

MAX_FRAMES = 200
MAX_EXCEPTIONS = 10
MAX_MESSAGE = 2000
MAX_LINE = 4096

# Module (class, namespace, package) prefixes that are never the service's own code.
_LIBRARY_MODULES: dict[str, tuple[str, ...]] = {
    "jvm": (
        "java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.", "_COROUTINE.",
        "org.springframework.", "org.apache.", "io.netty.", "reactor.", "com.fasterxml.", "org.hibernate.",
        "com.zaxxer.", "io.micrometer.", "org.junit.", "jakarta.", "okhttp3.", "okio.", "io.grpc.", "io.ktor.",
        "org.jetbrains.", "feign.", "io.undertow.", "org.eclipse.jetty.", "ch.qos.logback.", "org.slf4j.",
        "com.google.", "io.vertx.", "akka.", "io.opentelemetry.", "org.postgresql.", "com.mysql.",
        "io.reactivex.", "retrofit2.", "net.bytebuddy.", "org.aspectj.", "io.quarkus.", "io.micronaut.",
    ),
    "dotnet": (
        "System.", "Microsoft.", "Npgsql.", "Newtonsoft.", "Grpc.", "Polly.", "StackExchange.", "Dapper.",
        "Serilog.", "MediatR.", "Castle.", "NHibernate.", "Swashbuckle.", "lambda_method",
    ),
}  # fmt: skip
# File path fragments (forward slashes) that mark dependency or runtime code.
_LIBRARY_PATHS: dict[str, tuple[str, ...]] = {
    "python": ("site-packages/", "dist-packages/", "/lib/python", "<frozen ", "/lib/pypy"),
    "node": ("node_modules/", "node:", "<anonymous>", "native"),
    "go": ("/pkg/mod/", "/vendor/", "/usr/local/go/", "/usr/lib/go", "/go/src/runtime/", "GOROOT/"),
    "jvm": (),
    "dotnet": (),
}


def _under(module: str, prefix: str) -> bool:
    """`module` is `prefix` or lies inside it (`com.acme` covers `com.acme.x`, not `com.acmeco`)."""
    if not module.startswith(prefix):
        return False
    rest = module[len(prefix) :]
    return not rest or prefix[-1:] in "./" or rest[0] in "./$:("


def _go_stdlib(module: str) -> bool:
    first = module.split("/", 1)[0]
    return "." not in first and first != "main"


@dataclass(frozen=True)
class InApp:
    """Decides whether a frame is the service's own code.

    Library frames never are. With `packages`/`source_roots` configured a frame must match one;
    without them every frame that is not a known library or runtime frame counts as in-app."""

    language: Language
    packages: Sequence[str] = ()
    source_roots: Sequence[str] = ()

    def is_library(self, module: str | None, file: str | None) -> bool:
        """Known dependency, runtime or standard-library code."""
        path = (file or "").replace("\\", "/")
        if any(p in path for p in _LIBRARY_PATHS.get(self.language, ())):
            return True
        if self.language == "node" and path.startswith("internal/"):
            return True
        if module is None:
            return False
        if self.language == "go":
            return _go_stdlib(module)
        return any(module.startswith(p) for p in _LIBRARY_MODULES.get(self.language, ()))

    def __call__(self, module: str | None, file: str | None) -> bool:
        if self.is_library(module, file):
            return False
        if not self.packages and not self.source_roots:
            return bool(module or file)
        if module and any(_under(module, p) for p in self.packages if p):
            return True
        path = (file or "").replace("\\", "/")
        return any(root and root.replace("\\", "/") in path for root in self.source_roots)


@dataclass
class ExceptionBuilder:
    """One exception being parsed; frames beyond the cap are counted, never built."""

    type: str
    in_app: InApp
    message: str = ""
    frames: list[Frame] = field(default_factory=list)
    omitted: int = 0  # printed as elided by the runtime (`... 3 more`)
    dropped: int = 0  # cut by our cap

    def add_message_line(self, line: str) -> None:
        """Append a continuation line of a multi-line message, within the cap."""
        if len(self.message) < MAX_MESSAGE:
            self.message = f"{self.message}\n{line}" if self.message else line

    def add_frame(self, function: str, module: str | None, file: str | None, line: int | None, raw: str) -> None:
        """Add a frame (outwards from the throwing one), or count it when over the cap."""
        if len(self.frames) >= MAX_FRAMES:
            self.dropped += 1
            return
        frame = Frame(
            function=function[:300], module=module[:300] if module else module, file=file[:500] if file else file,
            line=line, in_app=self.in_app(module, file), raw=raw.strip()[:500],
        )  # fmt: skip
        self.frames.append(frame)

    def build(self) -> ExceptionInfo:
        """The immutable exception."""
        return ExceptionInfo(
            type=self.type[:300], message=self.message.strip()[:MAX_MESSAGE], frames=tuple(self.frames),
            omitted_frames=self.omitted + self.dropped,
        )  # fmt: skip


def build_trace(
    language: Language, exceptions: Sequence[ExceptionBuilder], *, truncated: bool = False
) -> StackTrace | None:
    """The finished trace, capped to `MAX_EXCEPTIONS`; None when nothing was recognised."""
    if not exceptions:
        return None
    kept = exceptions[:MAX_EXCEPTIONS]
    truncated = truncated or len(exceptions) > MAX_EXCEPTIONS or any(e.dropped for e in kept)
    return StackTrace(language=language, exceptions=tuple(e.build() for e in kept), truncated=truncated)


def to_int(text: str | None) -> int | None:
    """A line number, or None when absent or absurd."""
    if not text or len(text) > 9:
        return None
    return int(text)


def indent(line: str) -> int:
    """Leading whitespace width (tabs and spaces count one each)."""
    return len(line) - len(line.lstrip(" \t"))
