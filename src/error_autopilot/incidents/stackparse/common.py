"""What every language parser shares: caps, in-app marking, the exception builder, and reading a rendering behind
the prefix a process manager or shipper wrote on every line.

Caps keep hostile input cheap: a parser never builds more than `MAX_FRAMES` frames per exception
or keeps more than `MAX_EXCEPTIONS` exceptions, and `parse_stacktrace` cuts every line at `MAX_LINE`
characters before any pattern sees it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
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
    "python": ("site-packages/", "dist-packages/", "/lib/python", "<frozen ", "/lib/pypy", "/Lib/"),
    "node": ("node_modules/",),
    "go": ("/pkg/mod/", "/vendor/", "/usr/local/go/", "/usr/lib/go", "/go/src/runtime/", "GOROOT/", "/libexec/src/"),
    "jvm": (),
    "dotnet": (),
}
# Those of them that are the language runtime itself rather than a dependency.
_RUNTIME_PATHS = frozenset({"/lib/python", "<frozen ", "/lib/pypy", "/Lib/", "/usr/local/go/", "/usr/lib/go",
                            "/go/src/runtime/", "GOROOT/", "/libexec/src/"})  # fmt: skip
_NODE_RUNTIME_FILES = frozenset({"native", "<anonymous>", "events.js", "timers.js", "_stream_readable.js"})


def _under(module: str, prefix: str) -> bool:
    """`module` is `prefix` or lies inside it (`com.acme` covers `com.acme.x`, not `com.acmeco`)."""
    if not module.startswith(prefix):
        return False
    rest = module[len(prefix) :]
    return not rest or prefix[-1:] in "./" or rest[0] in "./$:(@"


def _go_stdlib(module: str) -> bool:
    first = module.split("/", 1)[0]
    return "." not in first and first not in ("main", "_")


def _go_vendored(module: str, packages: Sequence[str]) -> bool:
    """A Go package path that passes through a `vendor/` folder: one after the configured package it lies
    in, never a `vendor` segment of the configured path itself (a repository named `vendor`)."""
    rest = next((module[len(p.rstrip("/")) :] for p in packages if p and _under(module, p.rstrip("/"))), module)
    return "/vendor/" in rest


def _go_local(module: str | None) -> bool:
    """A package the go command built from a directory outside GOPATH and modules (a relative import,
    `./commands`): it names it `_` and the directory (cmd/go `dirToImportPath`, `_/home/me/app/commands`),
    so it is the program's own source, like `main`, never the standard library its dotless name suggests."""
    return module is not None and module.startswith("_/")


@dataclass(frozen=True)
class Verdict:
    """Whether a frame is the service's own code, and the one-line reason."""

    in_app: bool
    reason: str
    configured: bool = False  # decided by the service's `packages`/`source_roots`, not by a default list
    runtime: bool = False  # the language runtime or standard library, never a dependency or own code


@dataclass(frozen=True)
class _Hit:
    reason: str
    by_module: bool  # matched the frame's module (class, namespace, package) rather than its file path
    weight: int  # module hits: prefix length; path hits: where in the path the match starts
    root: bool = False  # a configured source root: a layout, so a library folder holding it stays library
    runtime: bool = False


@dataclass(frozen=True)
class InApp:
    """Decides whether a frame is the service's own code.

    The most specific match wins: a configured package against the built-in library lists (a wheel's
    `site-packages/order_service/` is own code when `order_service` is configured; `vendor/` below the
    configured module path is not). Source roots describe the repository's layout, so a library
    folder holding the same layout (`node_modules/x/src/`) stays library. With nothing configured,
    every frame that is not a known library or runtime frame counts as in-app."""

    language: Language
    packages: Sequence[str] = ()
    source_roots: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "packages", tuple(self.packages))  # hashable: verdicts are cached per frame
        object.__setattr__(self, "source_roots", tuple(self.source_roots))

    def _library(self, module: str | None, path: str) -> _Hit | None:
        if self.language == "node" and (path in _NODE_RUNTIME_FILES or path.startswith(("node:", "internal/"))):
            return _Hit(f"Node runtime ({path})", by_module=False, weight=0, runtime=True)
        best: _Hit | None = None
        for marker in _LIBRARY_PATHS.get(self.language, ()):
            at = path.rfind(marker)
            if at >= 0 and self._inside_package(path, at, marker):
                continue
            if at >= 0 and (best is None or at > best.weight):
                best = _Hit(f"library path ({marker.strip('/ ')})", by_module=False, weight=at,
                            runtime=marker in _RUNTIME_PATHS)  # fmt: skip
        if best is not None:
            return best
        if module is None:
            return None
        if self.language == "go":
            if _go_vendored(module, self.packages):
                return _Hit("vendored package", by_module=True, weight=len(module))
            # a dotless import path is the standard library's only in module mode; in GOPATH mode a package's import
            # path is its folder under `$GOPATH/src` (`go help gopath`), so a configured `puma` covers `puma/dev`
            if _go_stdlib(module) and not any(p and _under(module, p.rstrip("/")) for p in self.packages):
                return _Hit("Go standard library", by_module=True, weight=len(module), runtime=True)
            return None
        known = _LIBRARY_MODULES.get(self.language, ())
        if not module.startswith(known):
            return None
        prefixes = [p for p in known if module.startswith(p)]
        longest = max(prefixes, key=len)
        return _Hit(f"library package {longest.rstrip('.')}", by_module=True, weight=len(longest.rstrip(".")))

    def _own(self, module: str | None, path: str) -> _Hit | None:
        if self.language == "go" and module == "main":
            return _Hit("Go main package: always the program's own code", by_module=True, weight=len(module))
        if self.language == "go" and _go_local(module):
            return _Hit("Go package built from a local directory (`_/…`): the program's own code", by_module=True,
                        weight=len(module or ""))  # fmt: skip
        if module and not (self.language == "go" and _go_vendored(module, self.packages)):  # the path decides
            matches = [p for p in self.packages if p and _under(module, p)]
            if matches:
                longest = max(matches, key=len)
                return _Hit(f"in configured package {longest}", by_module=True, weight=len(longest))
        best: _Hit | None = None
        for pkg in self.packages:
            for form in _package_paths(self.language, pkg):
                at = path.rfind(form)
                if at >= 0 and (best is None or at > best.weight):
                    best = _Hit(f"path under configured package {pkg}", by_module=False, weight=at)
        for root in self.source_roots:
            norm = "/" + root.replace("\\", "/").strip("/") + "/"  # a whole segment: `lib` is not `/usr/lib64`
            at = ("/" + path).rfind(norm) if norm != "//" else -1
            if at >= 0 and (best is None or at > best.weight):
                best = _Hit(f"under configured source root {root}", by_module=False, weight=at, root=True)
        return best

    def _inside_package(self, path: str, at: int, marker: str) -> bool:
        """The Go library marker found at `at` is a segment of a configured package's own path
        (`github.com/kardianos/vendor/rewrite/…` with `github.com/kardianos/vendor` configured), not a
        `vendor/` folder below it: a vendor directory holds other import paths under the module's root
        (cmd/go "Vendor Directories"), so only a `vendor/` after the configured path is one."""
        if self.language != "go" or marker != "/vendor/":
            return False
        for pkg in self.packages:
            form = pkg.strip("/") + "/"
            start = path.find(form)
            while start >= 0:
                if start <= at + 1 < start + len(form):
                    return True
                start = path.find(form, start + 1)
        return False

    def classify(self, module: str | None, file: str | None) -> Verdict:
        """The verdict on one frame, with its reason."""
        return _classify(self, module, file)

    def _decide(self, module: str | None, file: str | None) -> Verdict:
        path = (file or "").replace("\\", "/")
        library, own = self._library(module, path), self._own(module, path)
        if own is not None and (library is None or _beats(own, library)):
            return Verdict(True, own.reason, configured=True)
        if library is not None:
            return Verdict(False, library.reason, runtime=library.runtime)
        if self.language in ("jvm", "dotnet") and module and "." not in module and not path:
            # a compact logger prints `Decoder:1007`: no package to hold against the configured ones
            return Verdict(True, "class printed without its package, not a known library")
        if not self.packages and not self.source_roots:
            if module or file:
                return Verdict(True, "not a known library or runtime frame (no packages configured)")
            return Verdict(False, "no module or file")
        return Verdict(False, "outside the configured packages and source roots", configured=True)

    def __call__(self, module: str | None, file: str | None) -> bool:
        return self.classify(module, file).in_app


@functools.lru_cache(maxsize=65536)  # the same frames recur in every line of a burst
def _classify(in_app: InApp, module: str | None, file: str | None) -> Verdict:
    return in_app._decide(module, file)


def _beats(own: _Hit, library: _Hit) -> bool:
    """Own code wins over a library match only where it is the more specific of the two."""
    if own.by_module and library.by_module:
        return own.weight >= library.weight
    if own.by_module:  # a module name is read from the path *after* the library folder
        return True
    if library.by_module or own.root:
        return False
    return own.weight > library.weight


def _package_paths(language: Language, package: str) -> tuple[str, ...]:
    """How a configured package shows in a file path (`order_service` → `/order_service/`)."""
    if language == "go":
        return (package.rstrip("/") + "/", package.rstrip("/") + "@")
    if language == "node":
        return ("node_modules/" + package.strip("/") + "/",)
    dotted = package.strip(".")
    return ("/" + dotted.replace(".", "/") + "/",) if dotted else ()


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
    if not text or len(text) > 9 or not text.isdigit():
        return None
    return int(text)


def indent(line: str) -> int:
    """Leading whitespace width (tabs and spaces count one each)."""
    return len(line) - len(line.lstrip(" \t"))


# digits differ from line to line in a shipper's prefix (timestamps, pids): compared as zeros
_DIGIT = re.compile(r"\d")


def without_lead(lines: list[str]) -> list[str]:
    """The lines without the prefix every non-blank one starts with, digits aside, up to its last space (a process
    manager's or shipper's `3|app  | `, a syslog or CRI stamp): no printed frame teaches `strip_line_prefix` it."""
    masked = [_DIGIT.sub("0", line) for line in lines if line.strip()]
    if len(masked) < 2:
        return lines
    first, last = min(masked), max(masked)
    common = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    cut = first[:common].rfind(" ") + 1
    if cut == 0:
        return lines
    lead = first[:cut]
    return [line[cut:] if _DIGIT.sub("0", line[:cut]) == lead else line for line in lines]


def read_behind_lead(lines: list[str], read: Callable[[list[str]], list[str] | None]) -> list[str]:
    """What `read` makes of the lines, or of the lines without the prefix every one carries (`without_lead`,
    only tried when the lines as they are read as nothing); the lines unchanged when neither reads."""
    found = read(lines)
    if found is None:
        bare = without_lead(lines)
        found = read(bare) if bare is not lines else None
    return lines if found is None else found
