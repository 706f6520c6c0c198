"""Stack frames → repository files: which file of the listing a frame names, how well, and why.

Pure: works on a file listing (and, when given one, a content search of the checkout), never on the
disk, and never returns a path outside the listing.

A frame's printed path is reduced to a *hint* (deployment root, `site-packages/`, the Go module cache
or GOPATH prefix, a build folder dropped; JVM/.NET: the package or namespace joined with the file or
class name) and the repository files with the same name compete on how many trailing path segments
they share with it. A tie is reported as ambiguous, never silently taken. Compiled JavaScript
(`dist/x.js`, `build/x.js`) also matches its TypeScript source (`src/x.ts`); a bundle the repository
commits is the file itself. When names find nothing (a class in a file named otherwise, a bundle), a
content search for the class's definition may.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from error_autopilot.domain.stack import Frame, Language, StackTrace

_SCHEME = re.compile(r"^(?:file://|webpack://[^/]*/|webpack-internal:///|async )")
_SITE = re.compile(r"^.*/(?:site|dist)-packages/")
_GO_CACHE = re.compile(r"^.*/pkg/mod/(?:[^@]+)@[^/]+/")
_GOPATH = re.compile(r"^.*/src/(?=[\w.-]+\.[a-z]{2,}/)")  # `/go/src/github.com/…`
_DRIVE = re.compile(r"^[A-Za-z]:/")
# A JavaScript action used with `uses: owner/repo@ref` runs from the runner's copy of that repository at the ref,
# `<work>/_actions/<owner>/<repo>/<ref>/` (GitHub's contexts reference, `github.action_path`; the runner gets the
# action's source at the ref, no build of it): below that folder lies the committed file itself, bundle or not. A
# committed `dist/index.js` is the bundle GitHub's "Creating a JavaScript action" and its TypeScript template have
# ncc make of every module, so a `.ts` of the same stem holds no more of it than any other source file.
_ACTION_CHECKOUT = re.compile(r"^(?:.*/)?_actions/[^/]+/[^/]+/[^/]+/")
_JS_EXT = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".vue", ".svelte", ".coffee")
_COMPILED = re.compile(r"\.(?:js|mjs|cjs|jsx)$")
_BUILD_DIRS = frozenset({"dist", "build", "out", "lib", "es", "esm", "cjs", "umd", "bin", "compiled", ".next",
                         "server"})  # fmt: skip
_BUILT = frozenset({"dist", "build", "out", ".next"})
# A package published in two module formats compiles its sources once per format into a folder of the build
# output named after the format (`dist/cjs/`, `dist/esm/`, `build/umd/`: tsc run once per tsconfig, each with its
# own `outDir`, as the TypeScript handbook's "Publishing" and Node's "Dual CommonJS/ES module packages" describe),
# so `dist/cjs/routes/x.js` is built from `src/routes/x.ts`: the two build folders stand for the one source folder.
_FORMAT_DIRS = frozenset({"cjs", "esm", "es", "umd", "commonjs", "module", "mjs", "es5", "es6", "es2015"})
_JVM_EXT = (".java", ".kt", ".scala", ".groovy", ".kts")
_DOTNET_EXT = (".cs", ".fs", ".vb", ".cshtml.cs", ".razor.cs", ".xaml.cs", ".aspx.cs")
TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?|spec|specs|__tests__|testing|testdata|src/test|src/androidTest)/"
    r"|(?:^|/)test_[^/]*\.py$|_test\.(?:py|go)$|(?:Tests?|Spec|IT)\.(?:java|kt|scala|cs)$|\.(?:test|spec)\.[jt]sx?$"
)
VENDORED = re.compile(r"(?:^|/)(?:vendor|node_modules|third_party|third-party|site-packages|external)/")


def compiled_elsewhere(frame: Frame, path: str) -> bool:
    """The frame ran compiled JavaScript (`dist/x.js`) and maps to its source (`src/x.ts`): without a
    source map its line numbers are the compiled file's, not the source's."""
    file = (frame.file or "").replace("\\", "/")
    return bool(_COMPILED.search(file)) and posixpath.splitext(file)[1] != posixpath.splitext(path)[1]


@dataclass(frozen=True)
class Mapping:
    """Where one frame lands in the repository."""

    path: str | None
    segments: int = 0  # trailing path segments shared with the frame's hint (1: the name only)
    alternatives: tuple[str, ...] = ()  # other files that matched equally well
    note: str = ""
    by_class: bool = False  # found by the class name's file convention (`PortfolioService` → `portfolio.service.ts`)
    installed: bool = False  # below an installed package's root, the same path as in the repository

    @property
    def ambiguous(self) -> bool:
        """Several files matched equally well."""
        return bool(self.alternatives)


def index_files(files: Sequence[str]) -> dict[str, list[str]]:
    """The listing by file name (and, for JavaScript-like files, by stem), as `map_frame_explained` reads it."""
    index: dict[str, list[str]] = {}
    for path in files:
        name = posixpath.basename(path)
        index.setdefault(name, []).append(path)
        stem, ext = posixpath.splitext(name)
        if ext in _JS_EXT:
            index.setdefault("\0js:" + stem, []).append(path)
    return index


def _clean(file: str | None) -> str | None:
    """A frame's path with separators, schemes and query strings normalised; None when it is no path."""
    if not file:
        return None
    path = _SCHEME.sub("", file.replace("\\", "/").strip()).split("?", 1)[0]
    path = _DRIVE.sub("/", path).removeprefix("./")
    if path.startswith("/") and ".." in path.split("/"):  # `/srv/site/backoffice/../internship/x.py`: lexically
        path = _resolve_dots(path)
    if not path or path.startswith("<") or path in ("native", "Unknown Source") or ".." in path.split("/"):
        return None
    if "\x00" in path or posixpath.basename(path) in ("", ".", "~"):
        return None
    return path


def _resolve_dots(path: str) -> str:
    """`..` resolved within the path; left in (and so refused) where it would climb above the root."""
    kept: list[str] = []
    for part in path.split("/"):
        if part != "..":
            kept.append(part)
        elif len(kept) > 1:
            kept.pop()
        else:
            return path
    return "/".join(kept)


def _shared(path: str, hint: Sequence[str], *, compiled: bool, any_ext: bool = False) -> int:
    """Trailing segments `path` shares with `hint`; build folders match `src` for compiled JavaScript;
    `any_ext`: the file name is a class name, whatever the source language's extension."""
    a = path.split("/")[::-1]
    n = skip = 0
    for i, x in enumerate(a):
        if i + skip >= len(hint):
            break
        y = hint[i + skip]
        if i == 0 and any_ext:
            same = x.split(".", 1)[0] == y.split(".", 1)[0]
        elif i == 0 and compiled:
            same = posixpath.splitext(x)[0] == posixpath.splitext(y)[0]
        else:
            same = x == y or (compiled and y in _BUILD_DIRS and x in ("src", "lib", "source", "app"))
        if not same:
            break
        n += 1
        if x != y and y in _FORMAT_DIRS and i + skip + 1 < len(hint) and hint[i + skip + 1] in _BUILT:
            skip, n = skip + 1, n + 1  # `dist/cjs` built from the one source folder `src`
    return n


def _choose(
    candidates: list[str], hint: str, *, compiled: bool = False, any_ext: bool = False, below: str | None = None
) -> Mapping:
    """The candidate sharing most trailing segments with `hint`; among ties `below` (the path below the
    configured Go package, which is a repository path), then the one sharing most of the hint's words."""
    if not candidates:
        return Mapping(None, note="no file of that name in the repository")
    parts = [p for p in hint.strip("/").split("/") if p][::-1]
    shared = [(_shared(c, parts, compiled=compiled, any_ext=any_ext), c) for c in candidates]
    scored = sorted(shared, key=lambda t: (-t[0], len(t[1])))
    best = scored[0][0]
    if best == 0:
        return Mapping(None, note="no file of that name in the repository")
    tied = [c for s, c in scored if s == best]
    if compiled and len(tied) > 1:
        # The built file and a file in a source folder both match. tsc emits one `.js` per `.ts` (its
        # outDir mirrors rootDir), so a `.ts` twin is the source the fix goes into. A `.js` twin is only
        # a name match: bundlers (ncc, webpack, rollup) fold every module into one `dist/index.js`, and a
        # GitHub Action commits that bundle (GitHub's JavaScript-action docs); the frame's line is a line
        # of the committed bundle, not of `src/index.js`.
        exact = [c for c in tied if _shared(c, parts, compiled=False) == best]
        source = [c for c in tied if not _BUILT.intersection(c.split("/"))]
        if exact and all(posixpath.splitext(c)[1] == posixpath.splitext(exact[0])[1] for c in source):
            others = tuple(c for c in tied if c != exact[0])[:3]
            return Mapping(exact[0], best, others, note="the committed build output the frame names")
        tied = source or tied
    if below in tied and len(tied) > 1:
        others = tuple(c for c in tied if c != below)[:3]
        return Mapping(below, best, note=f"the path below the configured Go package; not {', '.join(others)}")
    if len(tied) > 1:  # more of the hint's words in the path: `Acme.Orders.Api/` for namespace `Acme.Orders.Api`
        words = set(re.split(r"[/._-]", hint.lower()))
        overlap = {c: len(words.intersection(re.split(r"[/._-]", c.lower()))) for c in tied}
        tied = [c for c in tied if overlap[c] == max(overlap.values())]
    if len(tied) > 1:  # a test twin of the file does not make the choice ambiguous
        tied = [c for c in tied if not TEST_PATH.search(c)] or tied
    chosen, others = tied[0], tuple(tied[1:])
    return Mapping(chosen, best, others)


def _jvm_hint(frame: Frame, name: str | None, language: Language | None) -> tuple[list[str], str] | None:
    """Candidate file names and the package path hint of a JVM/.NET frame."""
    module = frame.module or ""
    if not module:
        return None
    if name is None and language is not None:
        dotnet = language == "dotnet"
    else:
        dotnet = name is None or name.endswith(_DOTNET_EXT)
    sep = "+" if dotnet and "+" in module else "$"
    owner = module.split(sep, 1)[0].split("`", 1)[0]
    package, _, cls = owner.rpartition(".")
    if name:
        names = [name]
    else:
        base = cls.removesuffix("Kt") if cls.endswith("Kt") else cls
        exts = _DOTNET_EXT if dotnet and not any(owner.startswith(p) for p in ("java.", "com.", "org.")) else _JVM_EXT
        names = [base + ext for ext in (*exts, *(_JVM_EXT if exts is _DOTNET_EXT else _DOTNET_EXT))]
    return names, "/".join(package.split(".")) if package else ""


def map_frame_explained(
    frame: Frame, index: dict[str, list[str]], language: Language | None = None, packages: Sequence[str] = ()
) -> Mapping:
    """The repository file of a frame, how well it matched, and the alternatives when it is ambiguous;
    `packages` (the service's configured ones) settle a tie between Go files (`_below_go_package`)."""
    raw = frame.file or ""
    path = _clean(raw)
    if raw and path is None and not raw.startswith("<") and raw not in ("native", "Unknown Source"):
        return Mapping(None, note="path is not a plain file path")
    jvm_like = language in ("jvm", "dotnet") or (
        language is None and frame.module is not None and "/" not in (path or "") and "." in frame.module
    )
    if jvm_like and (path is None or "/" not in path):
        jvm = _jvm_hint(frame, path, language)
        if jvm is None:
            return Mapping(None, note="no file and no class name")
        names, package = jvm
        found = [c for n in names for c in index.get(n, [])]
        return _choose(found, f"{package}/{names[0]}" if package else names[0], any_ext=path is None)
    if path is None:
        return Mapping(None, note="no file")
    hint = _GO_CACHE.sub("", _SITE.sub("", path))
    hint = _GOPATH.sub("", hint) if hint.endswith(".go") else hint
    name = posixpath.basename(path)
    compiled = bool(_COMPILED.search(name))
    found = list(index.get(name, []))
    if compiled or name.endswith(_JS_EXT):
        stem = posixpath.splitext(name)[0]
        found += [c for c in index.get("\0js:" + stem, []) if c not in found]
        mapping = _choose(found, hint, compiled=compiled)
        if compiled and (action := _ACTION_CHECKOUT.match(path)) and path[action.end() :] in index.get(name, []):
            committed = path[action.end() :]
            others = tuple(c for c in (mapping.path, *mapping.alternatives) if c and c != committed)[:3]
            note = "the action's own checkout runs the committed file"
            return Mapping(committed, max(mapping.segments, committed.count("/") + 1), others, note=note)
        if mapping.segments < 2 and (by_class := _class_file(frame, index)) is not None:
            return by_class
        return mapping
    return _choose(found, hint, compiled=compiled, below=_below_go_package(hint, packages))


def _below_go_package(hint: str, packages: Sequence[str]) -> str | None:
    """The part of a Go file's GOPATH or module-cache path below a configured package: a package's import
    path is its module's path joined with the package's directory in the module (go.dev/ref/mod,
    "Modules, packages, and versions"; GOPATH: `$GOPATH/src/<import path>`), so below the configured
    module path lies the path in the repository (`github.com/whyrusleeping/natest/main.go` → `main.go`)."""
    if not hint.endswith(".go"):
        return None
    for pkg in sorted((p.strip("/") for p in packages if p.strip("/")), key=len, reverse=True):
        if hint.startswith(pkg + "/"):
            return hint[len(pkg) + 1 :]
    return None


# The root of an installed package: npm unpacks a package's tarball, made from the folder holding its
# package.json, as `node_modules/<name>/` (`@scope/<name>`; cnpm: `_<name>@<version>@<name>`); the Go
# module cache holds a module's tree at `pkg/mod/<module path>@<version>/`.
_PACKAGE_ROOT = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/]+/|/pkg/mod/[^@]+@[^/]+/")


def below_package_root(frame: Frame) -> str | None:
    """The frame's path below the root of the installed package it ran from (`…/node_modules/<name>/dist/x.js`
    → `dist/x.js`); None outside one, and for a package's own dependencies (a vendored path below the root)."""
    path = _clean(frame.file)
    roots = list(_PACKAGE_ROOT.finditer(path or ""))
    if path is None or not roots:
        return None
    below = path[roots[-1].end() :]
    return None if VENDORED.search(below) else below


def as_installed_package(frame: Frame, index: dict[str, list[str]]) -> Mapping | None:
    """The repository file a library frame names when the service itself is the installed package: the
    path below the package's root (`/usr/lib/node_modules/<any name>/index.js` → `index.js`) is a
    repository path exactly, so the package was built from this repository's root, whatever its
    published name. None otherwise, and for a package nested inside it (its own dependencies)."""
    below = below_package_root(frame)
    if below is None or below not in index.get(posixpath.basename(below), []):
        return None
    note = f"the installed package's own path {below} is this repository's file: the service ran as a package"
    return Mapping(below, below.count("/") + 1, note=note, installed=True)


def workspace_package(frame: Frame, path: str, index: dict[str, list[str]]) -> str | None:
    """The package a `node_modules/` frame ran from when the repository keeps that package's source itself in a
    `node_modules/` folder below its root (`packages/node_modules/@node-red/runtime/`): Node resolves a
    `require` through every `node_modules` folder up the tree (Node.js docs, "Loading from node_modules
    folders"), so a monorepo can commit its own packages there to link them without a workspace tool. The
    frame's path from its package on is the repository path's. A `node_modules/` folder beside a
    `package.json` (the repository root's, a package's) holds that package's installed dependencies, and one
    under tests holds fixtures: no such workspace. None otherwise."""
    file = (frame.file or "").replace("\\", "/")
    roots = list(_PACKAGE_ROOT.finditer(file))
    if not roots or "node_modules/" not in roots[-1].group() or TEST_PATH.search(path):
        return None
    folder = path.removesuffix(file[roots[-1].start() :].lstrip("/"))
    if folder == path or not folder.strip("/") or "node_modules/" in folder:
        return None
    if folder + "package.json" in index.get("package.json", []):
        return None
    return roots[-1].group().strip("/").removeprefix("node_modules/")


def _class_file(frame: Frame, index: dict[str, list[str]]) -> Mapping | None:
    """A bundled frame (`main.js:1`, `PortfolioService.getDetails`) found by the class's file name
    convention: `PortfolioService` → `portfolio.service.ts`, `portfolio-service.ts`, `PortfolioService.ts`."""
    owner = frame.function.removeprefix("async ").removeprefix("new ").split(".", 1)[0]
    if "." not in frame.function or not re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+", owner):
        return None
    words = [w.lower() for w in re.findall(r"[A-Z][a-z0-9]+", owner)]
    stems = {owner, ".".join(words), "-".join(words), "_".join(words), "-".join(words[:-1]) + "." + words[-1]}
    found = sorted({c for stem in stems for c in index.get("\0js:" + stem, []) if not TEST_PATH.search(c)})
    if not found:
        return None
    return Mapping(found[0], 1, tuple(found[1:]), note=f"class {owner} by file name convention", by_class=True)


MAX_LINK_HOPS = 8


def resolve_links(links: dict[str, str], listed: Sequence[str]) -> dict[str, str]:
    """Each symbolic link of the repository → the listed file it finally names (`archive` →
    `bin/archivebox` → `../archivebox/archive.py` gives `archivebox/archive.py`); links that leave the
    repository, loop or name no listed file are left out."""
    files = set(listed)
    resolved: dict[str, str] = {}
    for link in links:
        path = link
        for _ in range(MAX_LINK_HOPS):
            target = links[path]
            if target.startswith("/"):
                break
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if path.startswith("../") or path not in links:
                break
        if path in files and path not in links and not path.startswith("../"):
            resolved[link] = path
    return resolved


def through_link(mapping: Mapping, links: dict[str, str]) -> Mapping:
    """The mapping moved from a symbolic link to the file it names (a script at the repository root
    linked to a module of the package): the frame ran that file's code."""
    if mapping.path is None or mapping.path not in links:
        return mapping
    target = links[mapping.path]
    return Mapping(target, mapping.segments, mapping.alternatives, note=f"{mapping.path} is a link to {target}")


def map_frame(frame: Frame, files: Sequence[str], index: dict[str, list[str]] | None = None) -> str | None:
    """The repository path of a frame, or None."""
    return map_frame_explained(frame, index if index is not None else index_files(files)).path


def under_root(path: str, roots: Sequence[str]) -> bool:
    """`path` lies under one of the configured source roots."""
    return any(f"/{r.strip('/')}/" in "/" + path for r in roots if r.strip("/"))


def map_stack(stack: StackTrace, files: Sequence[str]) -> list[tuple[Frame, str]]:
    """In-app frames that map to a file, throwing exception first, in order."""
    index = index_files(files)
    mapped = []
    for frame in stack.in_app_frames():
        path = map_frame_explained(frame, index, stack.language).path
        if path is not None:
            mapped.append((frame, path))
    return mapped
