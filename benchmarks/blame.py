"""The first blame of a file on a repository with a long history: the partial clone with its history
fetched in one request, against the same partial clone fetching on demand, against a full clone.

The repository is generated with `git fast-import` (COMMITS commits; the blamed file changed by every
TOUCH_EVERY-th one, the blamed lines only by the first, so blame walks the whole history) and served
from a local bare repository over file:// with partial clone allowed, so git speaks the real
partial-clone protocol. Each variant starts from its own fresh clone; blame is `blame.suspects`, what
an investigation runs. The full clone is measured twice: as `git clone` makes it (the baseline of
the target, "≤ 2× a full clone"), and with the same commit graph the cache writes."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from error_autopilot.investigation.blame import suspects
from error_autopilot.investigation.checkout import GitWorkspace

COMMITS = 12_000
TOUCH_EVERY = 24  # the blamed file changes in 500 of them
FILE = "src/service/handlers.py"
LINE = 10  # blame looks at lines 7–13: unchanged since the first commit
FILE_LINES = 200
ROUNDS = 3


def _stream(commits: int) -> Iterator[bytes]:
    """A fast-import stream: one branch, `commits` commits, the blamed file and a rotating other file."""
    lines = [f"line {i}\n" for i in range(FILE_LINES)]
    for c in range(commits):
        when = 1_600_000_000 + c * 60
        out = [b"commit refs/heads/main\n", f"committer Dev <dev@example.com> {when} +0000\n".encode()]
        message = f"Change {c}\n".encode()
        out.append(b"data %d\n%s" % (len(message), message))
        files = [(f"src/other/module{c % 40}.py", f"value = {c}\n".encode())]
        if c % TOUCH_EVERY == 0:
            k = 20 + (c // TOUCH_EVERY * 7) % (FILE_LINES - 20)
            lines[k] = f"line {k}, changed in {c}\n"
            files.append((FILE, "".join(lines).encode()))
        for path, data in files:
            out.append(f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (len(data), data))
        yield b"".join(out)


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def build_remote(root: Path, commits: int = COMMITS) -> Path:
    """The bare repository, packed and serving partial clones."""
    remote = root / "remote.git"
    _git("init", "-q", "--bare", "-b", "main", str(remote))
    with subprocess.Popen(["git", "fast-import", "--quiet"], cwd=remote, stdin=subprocess.PIPE) as fast_import:
        assert fast_import.stdin is not None
        for chunk in _stream(commits):
            fast_import.stdin.write(chunk)
        fast_import.stdin.close()
        if fast_import.wait() != 0:
            raise RuntimeError("git fast-import failed")
    _git("repack", "-adq", cwd=remote)
    _git("config", "uploadpack.allowFilter", "true", cwd=remote)
    return remote


def _timed_blame(root: Path, commit: str) -> tuple[float, str]:
    started = time.perf_counter()
    found = suspects(root, commit, FILE, LINE, None)
    return time.perf_counter() - started, found[0].sha


def _full(root: Path, url: str, name: str, *, indexed: bool) -> tuple[float, float, str, str]:
    """(clone s, blame s, head, blamed commit) on a fresh full clone, with or without the commit graph
    the cache writes (so the partial clone is also compared with a full clone given the same help)."""
    started = time.perf_counter()
    _git("clone", "-q", "--no-checkout", url, str(root / name))
    if indexed:
        _git("commit-graph", "write", "--reachable", "--changed-paths", "--split", cwd=root / name)
    clone_s = time.perf_counter() - started
    head = _git("rev-parse", "HEAD", cwd=root / name)
    blame_s, blamed = _timed_blame(root / name, head)
    return clone_s, blame_s, head, blamed


def _batched(root: Path, url: str, head: str, name: str) -> tuple[float, float, float, int, str]:
    """(clone s, prefetch s, blame s, versions fetched, blamed commit) through GitWorkspace."""
    ws = GitWorkspace(root / name)
    out = ws.checkout(url, head, "main", None)
    started = time.perf_counter()
    fetched = ws.prefetch_history(out, [FILE])
    prefetch_s = time.perf_counter() - started
    blame_s, blamed = _timed_blame(out.path, head)
    return ws.clone_seconds, prefetch_s, blame_s, fetched, blamed


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(commits: int = COMMITS, rounds: int = ROUNDS) -> dict[str, Any]:
    """Figures for `make bench`: medians over `rounds` fresh clones (the on-demand variant once: it
    is the slow one), ratios against the full clone."""
    with tempfile.TemporaryDirectory(prefix="bench-blame-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        url = f"file://{build_remote(root, commits)}"
        generated_s = time.perf_counter() - started
        full, indexed, batched, blamed = [], [], [], set()
        for r in range(rounds):
            full_clone_s, full_s, head, sha = _full(root, url, f"full-{r}", indexed=False)
            full.append((full_clone_s, full_s))
            blamed.add(sha)
            clone_s, blame_s, _, sha = _full(root, url, f"indexed-{r}", indexed=True)
            indexed.append((clone_s, blame_s))
            blamed.add(sha)
            clone_s, prefetch_s, blame_s, fetched, sha = _batched(root, url, head, f"cache-{r}")
            batched.append((clone_s, prefetch_s, blame_s, prefetch_s + blame_s))
            blamed.add(sha)
        naive = GitWorkspace(root / "cache-naive").checkout(url, head, "main", None)
        naive_s, sha = _timed_blame(naive.path, head)
        blamed.add(sha)
    assert len(blamed) == 1, "every variant must blame the same commit"
    full_s, indexed_s = _median([f[1] for f in full]), _median([i[1] for i in indexed])
    batched_s = _median([b[3] for b in batched])
    return {
        "commits": commits, "file_versions": len(range(0, commits, TOUCH_EVERY)), "rounds": rounds,
        "generate_s": round(generated_s, 2),
        "full_clone_s": round(_median([f[0] for f in full]), 3),
        "full_indexed_clone_s": round(_median([i[0] for i in indexed]), 3),
        "partial_clone_s": round(_median([b[0] for b in batched]), 3),
        "full_blame_s": round(full_s, 3), "full_indexed_blame_s": round(indexed_s, 3),
        "batched_blame_s": round(batched_s, 3), "batched_prefetch_s": round(_median([b[1] for b in batched]), 3),
        "batched_versions_fetched": fetched, "naive_blame_s": round(naive_s, 3),
        "ratio_batched_vs_full": round(batched_s / full_s, 2),
        "ratio_batched_vs_full_indexed": round(batched_s / indexed_s, 2),
        "ratio_naive_vs_full": round(naive_s / full_s, 1),
        "floor_ratio": 2.0, "meets_floor": batched_s <= 2 * full_s,
    }  # fmt: skip


if __name__ == "__main__":
    print(run())
