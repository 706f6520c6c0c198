"""Check a model-written patch against the deployed commit, in a throwaway copy.

The read-only checkout is never written: the patch is applied to a shared clone (or a plain copy
when the checkout is not a git repository) in a temporary directory, and the service's
`test_command` (trusted: it comes from the service map) runs there with a timeout, without a shell
and without the runner's secrets in its environment.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from error_autopilot.domain.findings import PatchVerdict
from error_autopilot.investigation.diffparse import parse_unified_diff
from error_autopilot.investigation.sanitize import sanitize

log = logging.getLogger(__name__)

PatchCheck = PatchVerdict  # the name the auto-fix issue uses; one model, kept in the domain
TAIL_CHARS = 4000
_GIT_TIMEOUT_S = 120
_SECRET_ENV_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")
_SECRET_ENV_PREFIXES = ("ANTHROPIC_", "GITHUB_", "ACTIONS_", "INPUT_", "TELEGRAM_", "AUTOPILOT_", "AWS_", "GH_")


def _git(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
    )


def _is_symlink_in_repo(repo_root: Path, path: str) -> bool:
    """True when `path` or one of its parents is a symlink in the checkout (it could point anywhere)."""
    current = repo_root
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            return True
    return False


def _prepare_copy(repo_root: Path, work: Path) -> str | None:
    """Materialise the deployed commit in `work`; returns a problem, or None on success."""
    head = _git(["rev-parse", "--verify", "HEAD"], repo_root)
    if head.returncode == 0:
        sha = head.stdout.strip()
        cloned = _git(["clone", "--quiet", "--shared", "--no-checkout", str(repo_root), str(work)], repo_root.parent)
        if cloned.returncode != 0:
            return f"cannot clone the checkout: {cloned.stderr.strip()[:300]}"
        checked = _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha], work)
        return None if checked.returncode == 0 else f"cannot check out {sha}: {checked.stderr.strip()[:300]}"
    shutil.copytree(repo_root, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    inited = _git(["init", "--quiet"], work)
    return None if inited.returncode == 0 else f"cannot prepare a copy: {inited.stderr.strip()[:300]}"


def _scrubbed_env() -> dict[str, str]:
    """The runner's environment minus anything that looks like a credential: the patch is model-written."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(_SECRET_ENV_PREFIXES) and not any(w in k.upper() for w in _SECRET_ENV_WORDS)
    }


def _run_tests(command: str, cwd: Path, timeout_s: int) -> tuple[bool, str, str | None]:
    """(passed, output tail, problem) of the service's test command."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        return False, "", f"test_command cannot be parsed: {e}"
    if not argv:
        return False, "", "test_command is empty"
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=_scrubbed_env(), start_new_session=True,
        )  # fmt: skip
    except OSError as e:
        return False, "", f"test_command could not start: {e.strerror or e}"
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: build tools leave daemons behind
        out, _ = proc.communicate()
        tail = sanitize(out.decode("utf-8", "replace")[-TAIL_CHARS:])
        return False, tail, f"tests timed out after {timeout_s}s"
    tail = sanitize(out.decode("utf-8", "replace")[-TAIL_CHARS:])
    if proc.returncode != 0:
        return False, tail, f"tests failed (exit {proc.returncode})"
    return True, tail, None


def check_patch(diff: str, repo_root: Path, *, test_command: str | None, timeout_s: int) -> PatchCheck:
    """Validate `diff` in code and try it on a temporary copy of `repo_root` (never on the checkout itself).

    Problems found by reading the diff stop the check before git sees it: a patch that escapes the
    repository, touches `.git/`, changes a symlink or carries binary data is never applied anywhere."""
    parsed = parse_unified_diff(diff)
    problems = list(parsed.problems)
    inside = not parsed.unsafe_paths
    for path in parsed.files:
        if inside and _is_symlink_in_repo(repo_root, path):
            problems.append(f"{path} is (or is under) a symlink in the checkout")
            inside = False
    verdict = PatchCheck(
        applies=False, files=tuple(parsed.files), changed_lines=parsed.changed_lines, inside_repo=inside,
        binary=parsed.binary, problems=tuple(problems),
    )  # fmt: skip
    if problems:
        return verdict
    with tempfile.TemporaryDirectory(prefix="autopilot-patch-") as tmp:
        work = Path(tmp) / "repo"
        problem = _prepare_copy(repo_root, work)
        if problem:
            return verdict.model_copy(update={"problems": (problem,)})
        text = diff if diff.endswith("\n") else diff + "\n"
        checked = _git(["apply", "--check", "--whitespace=nowarn", "-"], work, stdin=text)
        if checked.returncode != 0:
            reason = sanitize(checked.stderr.strip()[:500])
            return verdict.model_copy(update={"problems": (f"git apply --check failed: {reason}",)})
        applied = _git(["apply", "--whitespace=nowarn", "-"], work, stdin=text)
        if applied.returncode != 0:
            return verdict.model_copy(update={"problems": (f"git apply failed: {applied.stderr.strip()[:500]}",)})
        if not test_command:
            return verdict.model_copy(update={"applies": True})
        log.info("running %s on the patched copy (timeout %ss)", test_command, timeout_s)
        passed, tail, test_problem = _run_tests(test_command, work, timeout_s)
        return verdict.model_copy(
            update={"applies": True, "test_passed": passed, "test_output_tail": tail,
                    "problems": (test_problem,) if test_problem else ()}
        )  # fmt: skip
