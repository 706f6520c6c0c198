"""check_patch: diffs are read strictly, applied in a throwaway clone, and tested there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from error_autopilot.investigation.diffparse import parse_unified_diff
from error_autopilot.investigation.patchcheck import check_patch

GOOD = """\
diff --git a/app/handler.py b/app/handler.py
--- a/app/handler.py
+++ b/app/handler.py
@@ -1,2 +1,4 @@
 def handle(order):
-    return order['id']
+    if 'id' not in order:
+        raise ValueError('order without id')
+    return order['id']
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "app").mkdir(parents=True)
    (root / "app" / "handler.py").write_text("def handle(order):\n    return order['id']\n")
    (root / "test_handler.py").write_text(
        "import sys\nsys.path.insert(0, '.')\nfrom app.handler import handle\n"
        "try:\n    handle({})\nexcept ValueError:\n    sys.exit(0)\nsys.exit(1)\n"
    )
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "linked")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "initial")
    return root


def _state(root: Path) -> tuple[str, str, str]:
    return (
        _git(root, "rev-parse", "HEAD"),
        _git(root, "status", "--porcelain"),
        (root / "app" / "handler.py").read_text(),
    )


def test_good_patch_applies_and_tests_pass_without_touching_the_checkout(repo: Path) -> None:
    before = _state(repo)
    verdict = check_patch(GOOD, repo, test_command=f"{sys.executable} test_handler.py", timeout_s=30)
    assert verdict.applies and verdict.inside_repo and not verdict.binary
    assert verdict.files == ("app/handler.py",)
    assert verdict.changed_lines == 4
    assert verdict.test_passed is True
    assert verdict.problems == ()
    assert _state(repo) == before


def test_failing_tests_are_reported_with_their_tail(repo: Path) -> None:
    command = f"{sys.executable} -c \"print('boom ghp_{'a' * 36}'); raise SystemExit(3)\""
    verdict = check_patch(GOOD, repo, test_command=command, timeout_s=30)
    assert verdict.applies and verdict.test_passed is False
    assert verdict.problems == ("tests failed (exit 3)",)
    assert "boom [REDACTED:github-token]" in verdict.test_output_tail


def test_test_timeout_kills_and_reports(repo: Path) -> None:
    verdict = check_patch(GOOD, repo, test_command=f"{sys.executable} -c 'import time; time.sleep(30)'", timeout_s=1)
    assert verdict.test_passed is False
    assert verdict.problems == ("tests timed out after 1s",)


def test_no_test_command_leaves_test_passed_unknown(repo: Path) -> None:
    verdict = check_patch(GOOD, repo, test_command=None, timeout_s=5)
    assert verdict.applies and verdict.test_passed is None


def test_patch_that_does_not_apply(repo: Path) -> None:
    stale = GOOD.replace("return order['id']\n+", "return order.get('id')\n+", 1)
    verdict = check_patch(stale, repo, test_command=None, timeout_s=5)
    assert not verdict.applies
    assert verdict.problems[0].startswith("git apply --check failed")


def test_test_command_does_not_see_runner_secrets(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "b" * 36)
    monkeypatch.setenv("MY_API_KEY", "k" * 20)
    probe = "import os,sys; sys.exit(1 if 'GITHUB_TOKEN' in os.environ or 'MY_API_KEY' in os.environ else 0)"
    cmd = f'{sys.executable} -c "{probe}"'
    assert check_patch(GOOD, repo, test_command=cmd, timeout_s=30).test_passed is True


HOSTILE = {
    "dotdot": ("--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+evil\n", "escapes"),
    "absolute": ("--- a//etc/passwd\n+++ b//etc/passwd\n@@ -1 +1 @@\n-root\n+evil\n", "absolute"),
    "git-dir": ("--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-x\n+y\n", ".git"),
    "binary": ("diff --git a/logo.png b/logo.png\nnew file mode 100644\nGIT binary patch\nliteral 4\nLcmZ?wbaV\n",
               "binary"),
    "binary-files": ("diff --git a/a.bin b/a.bin\nBinary files a/a.bin and b/a.bin differ\n", "binary"),
    "new-symlink": ("diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n"
                    "@@ -0,0 +1 @@\n+/etc/passwd\n", "symlink"),
    "through-symlink": ("--- a/linked/x.py\n+++ b/linked/x.py\n@@ -0,0 +1 @@\n+x\n", "symlink"),
    "quoted": ('--- "a/sp ace.py"\n+++ "b/sp ace.py"\n@@ -1 +1 @@\n-a\n+b\n', "quoted"),
    "bidi": ("--- a/app/handler.py\n+++ b/app/handler.py\n@@ -1 +1 @@\n-a\n+b\u202e\n", "bidirectional"),
    "no-headers": ("just some text\n", "no file headers"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_patches_are_refused_before_git_sees_them(repo: Path, name: str) -> None:
    diff, problem = HOSTILE[name]
    before = _state(repo)
    verdict = check_patch(diff, repo, test_command=f"{sys.executable} -c 'raise SystemExit(0)'", timeout_s=5)
    assert not verdict.applies
    assert verdict.test_passed is None
    assert any(problem in p for p in verdict.problems), verdict.problems
    assert _state(repo) == before


def test_parse_counts_lines_across_hunks_and_files() -> None:
    diff = (
        GOOD + "--- a/b.py\n+++ b/b.py\n@@ -10,3 +10,2 @@ def f():\n ctx\n-gone\n ctx\n\\ No newline at end of file\n"
    )
    parsed = parse_unified_diff(diff)
    assert parsed.files == ["app/handler.py", "b.py"]
    assert (parsed.added, parsed.removed) == (3, 2)
    assert parsed.problems == []


def test_huge_patch_is_refused_without_parsing() -> None:
    parsed = parse_unified_diff("+x\n" * 100_000)
    assert parsed.problems and "limit" in parsed.problems[0]
