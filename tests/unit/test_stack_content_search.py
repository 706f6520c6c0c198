"""A class whose file name does not follow it, or a bundled frame's method, found by searching the
checkout's content (`git grep` of a real repository) — only when the names found nothing or several files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation import blame
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.corpus import build_repo


def _candidates(
    tmp_path: Path, text: str, files: list[str], symbols: dict[str, list[dict[str, Any]]],
    packages: tuple[str, ...] = (), source_roots: tuple[str, ...] = (),
) -> tuple[Candidate, ...]:  # fmt: skip
    repo = tmp_path / "repo.git"
    head = build_repo(files, repo, symbols)
    trace = parse_stacktrace(text, packages=packages, source_roots=source_roots)
    assert trace is not None
    return rank(trace, files, packages=packages, source_roots=source_roots,
                grep=lambda pattern: blame.grep(repo, head, pattern)).candidates  # fmt: skip


CSHARP = (
    "System.NullReferenceException: Object reference not set to an instance of an object.\n"
    "   at River.OneMore.Commands.BiLinkCommand.ApplyHyperlink(Page page)\n"
    "   at River.OneMore.Commands.BiLinkCommand.<Execute>d__7.MoveNext()"
)
CSHARP_FILES = ["OneMore/Commands/References/CopyLinkCommand.cs", "OneMore/Commands/References/TwoWayLinkCommand.cs",
                "OneMore/Properties/Resources.cs"]  # fmt: skip


def test_a_class_in_a_file_of_another_name_is_found_by_its_definition(tmp_path: Path) -> None:
    symbols = {
        "OneMore/Commands/References/TwoWayLinkCommand.cs": [
            {"line": 25, "col": 1, "kind": "class", "name": "BiLinkCommand", "end": 300},
            {"line": 40, "col": 2, "kind": "method", "name": "ApplyHyperlink", "end": 60},
        ],
        "OneMore/Commands/References/CopyLinkCommand.cs": [
            {"line": 12, "col": 1, "kind": "class", "name": "CopyLinkCommand", "end": 90},
        ],
    }
    trace = parse_stacktrace(CSHARP, packages=("River.OneMore",))
    assert trace is not None and not rank(trace, CSHARP_FILES, packages=("River.OneMore",)).candidates
    first, *_ = _candidates(tmp_path, CSHARP, CSHARP_FILES, symbols, ("River.OneMore",))
    assert (first.path, first.function) == ("OneMore/Commands/References/TwoWayLinkCommand.cs", "ApplyHyperlink")
    assert "class BiLinkCommand is defined there (content search)" in first.reason


def test_no_definition_in_the_checkout_is_no_guess(tmp_path: Path) -> None:
    symbols = {
        "OneMore/Commands/References/TwoWayLinkCommand.cs": [
            {"line": 25, "col": 1, "kind": "class", "name": "TwoWayLinkCommand", "end": 300}
        ]
    }  # renamed since
    assert _candidates(tmp_path, CSHARP, CSHARP_FILES, symbols, ("River.OneMore",)) == ()


def test_a_file_found_by_its_name_is_not_searched_again(tmp_path: Path) -> None:
    text = "java.lang.IllegalStateException: x\n\tat com.acme.orders.Orders.place(Orders.kt:12)"
    files = ["src/main/kotlin/com/acme/orders/Orders.kt", "src/main/kotlin/com/acme/orders/Legacy.kt"]
    symbols = {"src/main/kotlin/com/acme/orders/Legacy.kt": [
        {"line": 3, "col": 0, "kind": "class", "name": "Orders", "end": 20}]}  # fmt: skip
    [only] = _candidates(tmp_path, text, files, symbols, ("com.acme",))
    assert only.path == "src/main/kotlin/com/acme/orders/Orders.kt"
    assert "content search" not in only.reason


def test_a_bundled_method_is_found_by_its_definition_under_the_source_root(tmp_path: Path) -> None:
    text = (
        "TypeError: Cannot read properties of undefined (reading 'Settings')\n"
        "    at fr.<anonymous> (/ghostfolio/apps/api/main.js:1:296193)\n"
        "    at __awaiter (/ghostfolio/apps/api/node_modules/tslib/tslib.js:114:16)\n"
        "    at fr.getSummary (/ghostfolio/apps/api/main.js:1:296134)"
    )
    files = ["apps/api/src/main.ts", "apps/api/src/app/portfolio/portfolio.service.ts",
             "apps/api/src/app/portfolio/portfolio.controller.ts"]  # fmt: skip
    symbols = {
        "apps/api/src/app/portfolio/portfolio.service.ts": [
            {"line": 91, "col": 0, "kind": "class", "name": "PortfolioService", "end": 1500},
            {"line": 1264, "col": 2, "kind": "function", "name": "getSummary", "end": 1300},
        ],
        "apps/api/src/main.ts": [{"line": 8, "col": 0, "kind": "function", "name": "bootstrap", "end": 40}],
    }
    first, *_ = _candidates(tmp_path, text, files, symbols, source_roots=("apps/api/src",))
    assert (first.path, first.function) == ("apps/api/src/app/portfolio/portfolio.service.ts", "getSummary")
    assert "method getSummary is defined there (content search)" in first.reason
