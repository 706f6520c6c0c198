"""Every past version of the files on a stack, fetched into a partial clone in one request before blame
reads them.

The cache's clones come without file contents, and git alone fetches each missing version in its own
round trip: tens of seconds on a repository with a long history. The server must allow fetching an
object by its id, the same request git's own on-demand fetch of a missing file makes (GitHub allows
it; a plain git server needs `uploadpack.allowAnySHA1InWant`, or serves it over protocol v2 by default).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from error_autopilot.investigation.clonecache.safegit import SafeGit, git_version

log = logging.getLogger(__name__)

_OID = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
# `fetch --stdin` and `--no-write-fetch-head` (2.29): older git keeps fetching one file version at a time.
BATCH_FETCH_GIT = (2, 29)
# One request may carry this many file versions; a file with a longer history gets its newest ones
# (blame walks from the newest), and git fetches any older version it still needs on demand.
MAX_PREFETCH_BLOBS = 20_000
PREFETCH_TIMEOUT_S = 300


def fetch_missing(run: SafeGit, url: str, clone_dir: Path, commit: str, paths: Sequence[str]) -> int:
    """Every past version of `paths` up to `commit` that the partial clone at `clone_dir` lacks, fetched
    in one request; returns how many. Nothing on a full clone or a git older than BATCH_FETCH_GIT; git's
    errors are the caller's to handle (the fetch is best effort)."""
    if run(["config", "--get", "--default", "", "remote.origin.promisor"], url, clone_dir) != "true":
        return 0  # a full clone already has every version
    if git_version() < BATCH_FETCH_GIT:
        log.info("git %s is older than %s: blame fetches past versions one at a time",
                 ".".join(map(str, git_version())), ".".join(map(str, BATCH_FETCH_GIT)))  # fmt: skip
        return 0
    # `--missing=print` lists what the clone lacks without fetching it; literal pathspecs, so a path
    # from a stack trace is never read as pathspec magic.
    listed = run(
        ["--literal-pathspecs", "rev-list", "--objects", "--missing=print", commit, "--", *paths], url, clone_dir
    )
    missing = [line[1:] for line in listed.splitlines() if line.startswith("?") and _OID.match(line[1:])]
    if not missing:
        return 0
    # What git runs for its own on-demand fetch, with every id at once: no negotiation (the server
    # would leave out whatever our commits reach, which is exactly what is missing), nothing else.
    subprocess.run(
        ["git", "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "origin", "--no-tags",
         "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
        cwd=clone_dir, input="\n".join(missing[:MAX_PREFETCH_BLOBS]) + "\n", text=True, capture_output=True,
        check=True, timeout=PREFETCH_TIMEOUT_S, env={**os.environ, **run.env(url)},
    )  # fmt: skip
    return min(len(missing), MAX_PREFETCH_BLOBS)
