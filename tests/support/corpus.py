"""The real-world stack-trace corpus (issue 11) run through the real pipeline, and its scores.

Each case in `tests/fixtures/realworld/<ecosystem>/<case>/` becomes a git repository whose tree is
the case's `files.txt` (one shared placeholder blob, written with git plumbing, so thousands of paths
cost milliseconds and blame still works; a file `symbols.json` indexes gets a skeleton instead, its
definitions on their real lines, so the engine reads it as it would read the code), its `trace.txt`
one multi-line log line in a loopback Loki, and a service of the service map. `plan` then
`investigate` run as in production (no LLM); the primary location and the ranked candidates are
scored against the files and functions the fix changed, beside the "innermost own frame" baseline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from error_autopilot.config.service_map import ServiceMap, parse_service_map
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.stack import Frame, StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace, strip_line_prefix
from error_autopilot.investigation.checkout import GitWorkspace
from error_autopilot.investigation.investigator import Investigator
from error_autopilot.pipeline import PlanRequest, investigate, plan
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state.store import GitStateStore, ReadOnlyStateStore
from tests.support.stores import WallClock

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "realworld"
ECOSYSTEMS = ("python", "jvm", "go", "node", "dotnet")
ENV = "corpus"
PLACEHOLDER = "".join(f"{n}\n" for n in range(1, 3001)).encode()
_GIT_ENV = {"GIT_AUTHOR_NAME": "Corpus", "GIT_AUTHOR_EMAIL": "corpus@example.com", "GIT_COMMITTER_NAME": "Corpus",
            "GIT_COMMITTER_EMAIL": "corpus@example.com", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One corpus case as committed."""

    folder: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        """`<owner>-<repo>-<issue>`."""
        return str(self.data["id"])

    @property
    def ecosystem(self) -> str:
        """`python`, `jvm`, `go`, `node` or `dotnet`."""
        return self.folder.parent.name

    @property
    def service(self) -> str:
        """The service name the case logs under (unique per case)."""
        return re.sub(r"[^a-z0-9-]+", "-", self.id.lower())[:60]

    @property
    def trace(self) -> str:
        """The trace as pasted."""
        return (self.folder / "trace.txt").read_text(encoding="utf-8")

    @property
    def files(self) -> list[str]:
        """The repository listing at the fix's parent."""
        text = (self.folder / "files.txt").read_text(encoding="utf-8")
        return [line for line in text.splitlines() if line.strip()]

    @property
    def symbols(self) -> dict[str, list[dict[str, Any]]]:
        """Definitions per file at the fix's parent (`symbols.json`; empty when the case has none)."""
        path = self.folder / "symbols.json"
        if not path.is_file():
            return {}
        files: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))["files"]
        return files

    @property
    def symlinks(self) -> dict[str, str]:
        """The tree's symbolic links among the listed paths: link → target as git stores it."""
        return dict(self.data.get("symlinks", {}))

    @property
    def packages(self) -> list[str]:
        """The service's configured packages."""
        return list(self.data.get("service", {}).get("packages", []))

    @property
    def source_roots(self) -> list[str]:
        """The service's configured source roots."""
        return list(self.data.get("service", {}).get("source_roots", []))

    @property
    def truth_files(self) -> set[str]:
        """Files the fix changed."""
        return set(self.data["truth"]["files"])

    @property
    def truth_functions(self) -> set[str]:
        """Functions the fix changed, bare names."""
        return {normalise_function(f) for f in self.data["truth"].get("functions", [])}

    @property
    def expect_no_location(self) -> bool:
        """The trace holds no frame of the repository's code."""
        return bool(self.data.get("expect_no_location"))


def load_cases(root: Path = CORPUS) -> list[Case]:
    """Every complete case folder, sorted by ecosystem and id."""
    cases = []
    for folder in sorted(root.glob("*/*/")):
        if all((folder / name).is_file() for name in ("case.json", "trace.txt", "files.txt")):
            cases.append(Case(folder, json.loads((folder / "case.json").read_text(encoding="utf-8"))))
    return cases


def normalise_function(name: str | None) -> str:
    """A bare, comparable function name: `Foo.bar` → `bar`, `(*T).Get` → `get`, `bar()` → `bar`."""
    if not name:
        return ""
    text = re.sub(r"\(.*\)$", "", name.strip())
    text = re.sub(r"[<>\[\]*()]", "", text)
    text = re.split(r"[.:#$/]", text)[-1] if re.search(r"[.:#$/]", text) else text
    return text.strip().lower()


def _git(args: Sequence[str], cwd: Path, env: dict[str, str], data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True, env=env)
    return done.stdout.decode().strip()


_SKELETON_LINES = 3000


def _definition_line(path: str, d: dict[str, Any]) -> str:
    """One definition as that language writes it, at its column."""
    name, kind, pad = d["name"], d["kind"], " " * int(d.get("col") or 0)
    ext = path.rsplit(".", 1)[-1].lower()
    if ext == "py":
        return f"{pad}class {name}:" if kind == "class" else f"{pad}def {name}(self):"
    if ext == "go":
        if kind == "type":
            return f"{pad}type {name} struct {{"
        if kind == "variable":
            return f"var {name} = &{name}Type{{"
        return f"func (r *{d['owner']}) {name}() {{" if d.get("owner") else f"func {name}() {{"
    if ext in ("kt", "kts"):
        return f"{pad}class {name} {{" if kind == "class" else f"{pad}fun {name}() {{"
    if ext in ("java", "cs", "scala", "groovy"):
        return f"{pad}public class {name} {{" if kind == "class" else f"{pad}public void {name}() {{"
    if kind == "class":
        return f"{pad}class {name} {{"
    return f"{pad}function {name}() {{" if not pad else f"{pad}{name}() {{"


def skeleton(path: str, definitions: Sequence[dict[str, Any]]) -> bytes:
    """A file whose line N holds the definition found on line N of the real file, filler indented one
    step inside the innermost definition around each other line (blank outside them), and, in brace
    languages, a `}` at the definition's column on its last line, as the code has."""
    defs = sorted(definitions, key=lambda d: int(d["line"]))
    size = max([_SKELETON_LINES, *(int(d.get("end") or d["line"]) + 1 for d in defs)])
    spans = []
    for i, d in enumerate(defs):  # no end known: until the next definition at the same column or outside
        end = d.get("end") or next((int(e["line"]) - 1 for e in defs[i + 1 :] if e["col"] <= d["col"]), size)
        spans.append((int(d["line"]), int(end), int(d.get("col") or 0)))
    lines = [""] * size
    for start, end, col in spans:  # inner definitions come later in the list and overwrite the filler
        for n in range(start, min(end, size)):
            lines[n] = " " * (col + 4) + "x"
    if not path.endswith(".py"):  # brace languages close a body on its last line, at the definition's column
        for d in defs:
            if d.get("end") and int(d["end"]) > int(d["line"]):
                lines[int(d["end"]) - 1] = " " * int(d.get("col") or 0) + "}"
    for d in defs:
        lines[int(d["line"]) - 1] = _definition_line(path, d)
    return ("\n".join(lines) + "\n").encode()


def build_repo(
    files: Sequence[str], dest: Path, symbols: dict[str, list[dict[str, Any]]] | None = None,
    symlinks: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """A bare repository whose `main` holds `files`, every one the same numbered placeholder blob but
    those `symbols` indexes (a skeleton each) and the `symlinks` (a link to its target, as git stores
    one); its head sha. Two git processes per repository (`init`, `fast-import`), whatever the number of
    paths."""
    env = {**os.environ, **_GIT_ENV}
    dest.mkdir(parents=True)
    _git(["-c", "init.defaultBranch=main", "init", "-q", "--bare", str(dest)], dest, env)
    message = b"corpus snapshot\n"
    listed = [path for path in files if path and "\n" not in path and path[0] != '"']
    blobs, marks = [b"blob\nmark :1\ndata %d\n" % len(PLACEHOLDER) + PLACEHOLDER + b"\n"], {}
    links = {path: target for path, target in (symlinks or {}).items() if path in set(listed)}
    bodies = {path: skeleton(path, (symbols or {})[path]) for path in set(symbols or {}).intersection(listed)}
    for path, body in sorted({**bodies, **{p: t.encode() for p, t in links.items()}}.items()):
        marks[path] = len(blobs) + 2  # :2 is the commit
        blobs.append(b"blob\nmark :%d\ndata %d\n" % (marks[path], len(body)) + body + b"\n")
    paths = "".join(f"M {'120000' if path in links else '100644'} :{marks.get(path, 1)} {path}\n" for path in listed)
    stream = (
        b"".join(blobs)
        + b"commit refs/heads/main\nmark :2\ncommitter Corpus <corpus@example.com> 1704067200 +0000\n"
        + b"data %d\n" % len(message) + message + paths.encode() + b"\n"
    )  # fmt: skip
    _git(["fast-import", "--quiet"], dest, {**env, "GIT_DIR": str(dest)}, stream)
    return _git(["rev-parse", "refs/heads/main"], dest, {**env, "GIT_DIR": str(dest)})


@dataclass
class Outcome:
    """What the pipeline said about one case, scored."""

    case: Case
    finding: Finding | None
    primary_file: str | None = None
    primary_function: str | None = None
    ranked: tuple[str, ...] = ()
    baseline_file: str | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def file_top1(self) -> bool:
        """The primary location is a file the fix changed."""
        return self.primary_file in self.case.truth_files if not self.case.expect_no_location else self.no_location_ok

    @property
    def function_top1(self) -> bool:
        """The primary function is one the fix changed."""
        if self.case.expect_no_location:
            return self.no_location_ok
        return self.file_top1 and normalise_function(self.primary_function) in self.case.truth_functions

    @property
    def file_top3(self) -> bool:
        """A fixed file among the first three candidates."""
        if self.case.expect_no_location:
            return self.no_location_ok
        return bool(self.case.truth_files.intersection(self.ranked[:3]))

    @property
    def baseline_top1(self) -> bool:
        """The innermost own frame names a fixed file."""
        if self.case.expect_no_location:
            return self.baseline_file is None
        return self.baseline_file in self.case.truth_files

    @property
    def no_location_ok(self) -> bool:
        """No location, and a sentence saying why."""
        return self.primary_file is None and bool(self.reason)

    @property
    def answered(self) -> bool:
        """A location, or a precise reason for none."""
        return self.primary_file is not None or bool(self.reason)


def _service_map(loki_url: str, repos: dict[str, Path], cases: Sequence[Case], split: bool = False) -> ServiceMap:
    services = {
        case.service: {"repo": str(repos[case.service]), "packages": case.packages, "source_roots": case.source_roots}
        for case in cases
    }
    data = {
        # Every case is pushed with `level="error"`: the selector picks errors by that label, as for a service
        # whose logger labels its level, rather than the default line filter's words, which a paste that
        # lost its header (frames only) may not contain.
        "environments": {
            ENV: {"loki": {"url": loki_url, "selector": f'{{env="{ENV}", level="error"}}', "line_filter": ""}}
        },
        "services": services,
        "policy": {"max_incidents_per_run": max(1, len(cases))},
    }
    if split:  # lines as a shipper sends them without a multiline stage: picked by the default line filter
        data["environments"] = {ENV: {"loki": {"url": loki_url, "selector": f'{{env="{ENV}"}}'}}}
        data["policy"] = {"max_incidents_per_run": 4 * len(cases)}
    return parse_service_map(data)


@contextmanager
def _loki(cases: Sequence[Case], split: bool = False) -> Iterator[LoopbackServer]:
    with LoopbackServer(LokiServer()) as loki:
        ts = time.time_ns() - 60 * 10**9
        streams = [
            {"stream": {"env": ENV, "service_name": case.service, "level": "error"},
             "values": [[str(ts + i), case.trace]]}
            for i, case in enumerate(cases)
        ]  # fmt: skip
        if split:  # one entry per line, a microsecond apart, the shipper's own prefix gone (as Loki holds it)
            streams = [
                {"stream": {"env": ENV, "service_name": case.service},
                 "values": [[str(ts + i * 10**6 + n * 1000), text]
                            for n, text in enumerate(strip_line_prefix(case.trace.splitlines())) if text.strip()]}
                for i, case in enumerate(cases)
            ]  # fmt: skip
        httpx.post(f"{loki.url}/loki/api/v1/push", json={"streams": streams}).raise_for_status()
        yield loki


@contextmanager
def scratch(fallback: Path | None = None) -> Iterator[Path]:
    """A private scratch folder, in memory when the machine has a tmpfs: checking out thousands of
    placeholder files is ten times faster there than on a loaded disk."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else fallback
    folder = Path(tempfile.mkdtemp(prefix="realworld-corpus-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


BATCH = 20  # cases per run: each run's checkouts are deleted before the next, bounding the scratch space


def run_corpus(cases: Sequence[Case], work: Path, *, split: bool = False) -> list[Outcome]:
    """Plan and investigate the cases with the real stages, a batch of them per run; one outcome per case.
    `split`: each trace is sent one entry per line, as a shipper without a multiline stage does."""
    outcomes: list[Outcome] = []
    for start in range(0, len(cases), BATCH):
        batch_dir = work / f"batch-{start // BATCH}"
        outcomes += _run_batch(cases[start : start + BATCH], batch_dir, split)
        shutil.rmtree(batch_dir, ignore_errors=True)
    return outcomes


def _run_batch(cases: Sequence[Case], work: Path, split: bool = False) -> list[Outcome]:
    repos = {case.service: work / "repos" / f"{case.service}.git" for case in cases}
    for case in cases:
        build_repo(case.files, repos[case.service], case.symbols, case.symlinks)
    ops = work / "ops.git"
    subprocess.run(["git", "init", "-q", "--bare", str(ops)], check=True, env={**os.environ, **_GIT_ENV})
    with _loki(cases, split) as loki:
        smap = _service_map(loki.url, repos, cases, split)
        with build_client(loki.url, org_id=None) as client:
            source = LokiSource(client, smap.environments[ENV].loki)
            store = ReadOnlyStateStore(GitStateStore(str(ops), branch="state", work_dir=work / "state"))
            request = PlanRequest(environments=[ENV])
            the_plan = plan(request, smap=smap, sources={ENV: source}, store=store, clock=WallClock())
        investigator = Investigator(smap, {}, GitWorkspace(work / "cache"))
        findings = investigate(the_plan, investigator.investigate).findings
    by_service: dict[str, Finding] = {}
    for f in findings:  # split lines can make a trace and its logger's line two incidents: the trace's is the one
        if f.symptom_service not in by_service or (by_service[f.symptom_service].primary_location is None):
            by_service[f.symptom_service] = f
    return [_outcome(case, by_service.get(case.service)) for case in cases]


def _outcome(case: Case, finding: Finding | None) -> Outcome:
    baseline = baseline_file(case)
    if finding is None:
        return Outcome(case, None, baseline_file=baseline, reason="", notes=["no incident was planned for the line"])
    loc = finding.primary_location
    ranked = tuple(c.path for c in finding.evidence_chain)
    reason = "; ".join(u for u in finding.unknowns if "frame" in u or "stack" in u)
    return Outcome(
        case, finding, primary_file=loc.path if loc else None, primary_function=loc.function if loc else None,
        ranked=ranked, baseline_file=baseline, reason=reason,
    )  # fmt: skip


def _frame_paths(frame: Frame, language: str) -> tuple[str, ...]:
    """The path a frame names, as plainly as possible: JVM/.NET join the package and the file name."""
    file = (frame.file or "").replace("\\", "/")
    if language in ("jvm", "dotnet") and frame.module and "/" not in file:
        package = frame.module.split("$", 1)[0].rsplit(".", 1)[0]
        if file:
            return ("/".join([*package.split("."), file]),)
        return ()
    return (file,) if file else ()


def baseline_file(case: Case) -> str | None:
    """The naive rule: the innermost frame of the thrown exception's chain (root cause first) whose file
    maps to a repository file by plain suffix match; no library lists, no configuration."""
    stack: StackTrace | None = parse_stacktrace(case.trace)
    if stack is None:
        return None
    files = case.files
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    for exc in reversed(stack.exceptions):
        for frame in exc.frames:
            for path in _frame_paths(frame, stack.language):
                segments = [s for s in path.split("/") if s]
                if not segments:
                    continue
                best: tuple[int, str] | None = None
                for candidate in by_name.get(segments[-1], []):
                    parts = candidate.split("/")
                    shared = 0
                    while shared < min(len(parts), len(segments)) and parts[-1 - shared] == segments[-1 - shared]:
                        shared += 1
                    if best is None or shared > best[0]:
                        best = (shared, candidate)
                if best is not None:
                    return best[1]
    return None


@dataclass(frozen=True)
class Scores:
    """Hit rates of one group of cases."""

    cases: int
    file_top1: float
    function_top1: float
    file_top3: float
    baseline_file_top1: float
    answered: float


def scores(outcomes: Sequence[Outcome]) -> Scores:
    """Rates over `outcomes` (0 when empty)."""
    n = len(outcomes)

    def rate(values: Sequence[bool]) -> float:
        return sum(values) / n if n else 0.0

    return Scores(
        cases=n,
        file_top1=rate([o.file_top1 for o in outcomes]),
        function_top1=rate([o.function_top1 for o in outcomes]),
        file_top3=rate([o.file_top3 for o in outcomes]),
        baseline_file_top1=rate([o.baseline_top1 for o in outcomes]),
        answered=rate([o.answered for o in outcomes]),
    )


def by_ecosystem(outcomes: Sequence[Outcome]) -> dict[str, Scores]:
    """Scores per ecosystem, then `all`."""
    groups = {eco: scores([o for o in outcomes if o.case.ecosystem == eco]) for eco in ECOSYSTEMS}
    groups["all"] = scores(outcomes)
    return groups


def table(outcomes: Sequence[Outcome]) -> str:
    """One line per case: hits, what was chosen, what the fix changed."""
    rows = [f"{'case':<44} f1 fn f3 base  primary → truth"]
    for o in outcomes:
        marks = " ".join("✓ " if ok else "✗ " for ok in (o.file_top1, o.function_top1, o.file_top3, o.baseline_top1))
        chosen = f"{o.primary_file}:{o.primary_function}" if o.primary_file else f"(none: {o.reason or o.notes})"
        truth = f"{sorted(o.case.truth_files)}:{sorted(o.case.truth_functions)}"
        rows.append(f"{o.case.ecosystem + '/' + o.case.id:<44} {marks} {chosen} → {truth}")
    return "\n".join(rows)


def summary(groups: dict[str, Scores]) -> str:
    """The figures per ecosystem and overall."""
    lines = [f"{'':<8} {'cases':>5} {'file@1':>7} {'func@1':>7} {'file@3':>7} {'base@1':>7}"]
    for name, s in groups.items():
        lines.append(f"{name:<8} {s.cases:>5} {s.file_top1:>7.0%} {s.function_top1:>7.0%} {s.file_top3:>7.0%} "
                     f"{s.baseline_file_top1:>7.0%}")  # fmt: skip
    return "\n".join(lines)
