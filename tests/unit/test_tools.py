"""The investigator's read-only tools: confinement in code, caps, and errors returned as data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from error_autopilot.domain.findings import TraceSummary
from error_autopilot.domain.incidents import SampleLine
from error_autopilot.investigation.tools import MAX_LINES, MAX_MATCHES, Evidence, ToolBox


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "service.py").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    (root / "src" / "app" / "handler.py").write_text("def handle(order):\n    return order['id']\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\n\turl = https://x-access-token:secret@github.com/o/r\n")
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00binary")
    (tmp_path / "outside.txt").write_text("outside secret\n")
    os.symlink(tmp_path / "outside.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape_dir")
    os.symlink(root / "src" / "app" / "handler.py", root / "inside_link.py")
    return root


def _box(root: Path) -> ToolBox:
    evidence = Evidence(
        log_samples=(SampleLine(line_id="abc123", ts_ns=1, text="KeyError: 'id'"),),
        trace=TraceSummary(trace_id="0af7651916cd43dd8448eb211c80319c", status="found",
                           culprit_service="orders", culprit_span_id="b7ad6b7169203331",
                           error_path=("00f067aa0ba902b7", "b7ad6b7169203331")),
    )  # fmt: skip
    return ToolBox({"acme/orders": root}, evidence)


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../../etc/passwd", "../outside.txt", "escape.txt", "escape_dir/outside.txt", ".git/config",
     ".GIT/config", "src/../.git/config", "~/.ssh/id_rsa", "src/\x00evil"],
)  # fmt: skip
def test_read_file_refuses_everything_outside_the_checkout(repo: Path, path: str) -> None:
    result = _box(repo).call("read_file", {"path": path})
    assert result.status == "error"
    assert "refused" in result.content
    assert "secret" not in result.content


def test_read_file_shows_numbered_lines_and_caps_them(repo: Path) -> None:
    result = _box(repo).call("read_file", {"path": "src/app/service.py", "start_line": 10, "end_line": 5000})
    assert result.status == "success"
    lines = result.content.splitlines()
    assert lines[0] == f"src/app/service.py (lines 10-{10 + MAX_LINES - 1} of 1000)"
    assert lines[1] == "    10| line 10"
    assert len(lines) == MAX_LINES + 1


def test_symlink_inside_the_checkout_is_followed(repo: Path) -> None:
    result = _box(repo).call("read_file", {"path": "inside_link.py"})
    assert result.status == "success"
    assert "return order['id']" in result.content


def test_binary_and_missing_files_are_errors_not_exceptions(repo: Path) -> None:
    box = _box(repo)
    assert box.call("read_file", {"path": "logo.png"}).content == "refused: logo.png is a binary file"
    missing = box.call("read_file", {"path": "nope.py"})
    assert missing.status == "error" and "does not exist" in missing.content
    beyond = box.call("read_file", {"path": "src/app/handler.py", "start_line": 50})
    assert beyond.status == "no_data"


def test_bad_arguments_and_unknown_tools_come_back_as_errors(repo: Path) -> None:
    box = _box(repo)
    assert box.call("rm_rf", {}).status == "error"
    bad = box.call("read_file", {"path": "x", "start_line": 0, "shell": "yes"})
    assert bad.status == "error"
    assert "start_line" in bad.content and "shell" in bad.content
    assert box.call("read_file", {"path": "src/app/handler.py", "repo": "other/repo"}).status == "error"


def test_list_dir_hides_git_and_refuses_escapes(repo: Path) -> None:
    box = _box(repo)
    listing = box.call("list_dir", {"path": "."})
    assert listing.status == "success"
    assert "src/" in listing.content.splitlines() and ".git" not in listing.content
    assert box.call("list_dir", {"path": "escape_dir"}).status == "error"
    assert box.call("list_dir", {"path": "/"}).status == "error"


def test_search_text_finds_literals_and_skips_git_binaries_and_links_outside(repo: Path) -> None:
    box = _box(repo)
    hits = box.call("search_text", {"pattern": "secret"})
    assert hits.status == "no_data"  # .git/config and the outside file both contain it
    found = box.call("search_text", {"pattern": "order['id']", "path_glob": "src/**"})
    assert found.status == "success"
    assert found.content == "src/app/handler.py:2:     return order['id']"


def test_search_caps_results(repo: Path) -> None:
    result = _box(repo).call("search_text", {"pattern": "line"})
    assert result.status == "success"
    assert len([ln for ln in result.content.splitlines() if ln.startswith("src/")]) == MAX_MATCHES
    assert "narrow the search" in result.content


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*)*y", r"(\w+\s?)*$", r"(a)\1", ".*.*.*x", "("])
def test_absurd_or_invalid_regexes_are_refused_quickly(repo: Path, pattern: str) -> None:
    result = _box(repo).call("search_text", {"pattern": pattern, "regex": True})
    assert result.status == "error"
    assert "regex" in result.content


def test_bounded_regex_works(repo: Path) -> None:
    result = _box(repo).call("search_text", {"pattern": r"^line 99\d$", "regex": True})
    assert result.status == "success"
    assert len(result.content.splitlines()) == 10


def test_evidence_tools_and_citable_ids(repo: Path) -> None:
    box = _box(repo)
    assert box.call("show_log_samples", {}).content == "log:abc123 KeyError: 'id'"
    trace = box.call("show_trace_path", {})
    assert "span:00f067aa0ba902b7 → span:b7ad6b7169203331" in trace.content
    assert box.evidence.span_ids == {"00f067aa0ba902b7", "b7ad6b7169203331"}
    assert ToolBox({}, Evidence()).call("show_trace_path", {}).status == "no_data"
    assert ToolBox({}, Evidence()).call("read_file", {"path": "a.py"}).status == "error"


def test_existing_line_validates_citations(repo: Path) -> None:
    box = _box(repo)
    assert box.existing_line("src/app/handler.py", 2) == "src/app/handler.py:2"
    assert box.existing_line("src/app/handler.py", 3) is None
    assert box.existing_line("../outside.txt", 1) is None
    assert box.existing_line(".git/config", 1) is None
    assert box.existing_line("logo.png", 1) is None


def test_definitions_are_valid_tool_schemas(repo: Path) -> None:
    defs = _box(repo).definitions()
    assert [d["name"] for d in defs] == ["read_file", "search_text", "list_dir", "show_trace_path", "show_log_samples"]
    for d in defs:
        assert d["input_schema"]["type"] == "object"
        assert len(d["description"]) > 40
    assert defs[0]["input_schema"]["required"] == ["path"]
