"""A frame's mapping to a repository file, corrected and judged by what the checkout holds: the file that
defines the frame's code when the names did not find it (content search), the target of a symbolic link, a
package the repository keeps in a `node_modules/` folder of its own, and whether a library frame that only its
file name ties to the repository is worth a candidate at all. Used by `stackmap.rank`, frame by frame.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from error_autopilot.domain.stack import Frame, Language
from error_autopilot.incidents.stackparse.common import InApp, Verdict
from error_autopilot.investigation.contentsearch import (
    Grep,
    or_bundled_function,
    or_by_content,
    or_moved_function,
    or_package_function,
)
from error_autopilot.investigation.pathmap import (
    Mapping,
    as_installed_package,
    through_link,
    under_root,
    workspace_package,
)

# A traceback prints each frame's `co_filename`, the path the module was found by on `sys.path`; `site` puts
# only absolute directories there (site-packages, the standard library), so a relative path was found through a
# relative entry (`''`, the current directory, or a script's own relative directory): the code was run from a
# checkout, not installed (docs.python.org, `sys.path` and `site`).
_ABSOLUTE = re.compile(r"^(?:[/\\~<]|[A-Za-z]:[/\\])")


def by_content(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]],
    configured: tuple[Sequence[str], Sequence[str]], grep: Grep | None, searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """The mapping, corrected by what the checkout's content says: the file that defines the frame's class
    when the names did not find it, the file a Go function moved to since the trace's build, the file of its
    package that defines a Go function printed without its position. `configured`: packages, source roots."""
    if grep is None:
        return mapping
    packages, source_roots = configured
    mapping = or_by_content(frame, mapping, verdict, language, index, source_roots, grep, searched)
    mapping = or_package_function(frame, mapping, verdict, language, index, packages, grep, searched)
    mapping = or_bundled_function(frame, mapping, verdict, language, index, grep, searched)
    return or_moved_function(frame, mapping, verdict, language, index, grep, searched)


def named_enough(
    frame: Frame, mapping: Mapping, verdict: Verdict, index: dict[str, list[str]], source_roots: Sequence[str],
    language: Language | None = None,
) -> Mapping | None:  # fmt: skip
    """The mapping of a frame worth a candidate; None for a library frame that only its file name ties to
    the repository, unless the service itself ran as that installed package (`as_installed_package`) or, in a
    Python traceback, its relative path is the repository's path in full (`_ABSOLUTE`)."""
    by_convention = mapping.by_class and mapping.path is not None and under_root(mapping.path, source_roots)
    if verdict.in_app or mapping.segments >= 2 or by_convention:
        return mapping
    file = (frame.file or "").replace("\\", "/").removeprefix("./")
    if language == "python" and file and not _ABSOLUTE.match(file) and file == mapping.path:
        return mapping
    return as_installed_package(frame, index)


def followed(mapping: Mapping, verdict: Verdict, links: dict[str, str], verdicts: InApp) -> tuple[Mapping, Verdict]:
    """A frame mapped to a symbolic link moves to the file the link names, and whether it is the
    service's code is judged on that file (`./archive` → `archivebox/archive.py`, under the package)."""
    followed = through_link(mapping, links)
    if followed is mapping or followed.path is None or verdict.in_app:
        return followed, verdict
    return followed, verdicts.classify(None, "/" + followed.path)


def in_workspace(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]]
) -> tuple[Mapping, Verdict]:
    """A library frame turned own code when its installed package is one the repository keeps in a
    `node_modules/` folder of its own (`workspace_package`); the mapping's note says so."""
    if verdict.in_app or language != "node" or mapping.path is None:
        return mapping, verdict
    if (package := workspace_package(frame, mapping.path, index)) is None:
        return mapping, verdict
    note = f"package {package} is kept in the repository"
    return replace(mapping, note="; ".join(filter(None, (mapping.note, note)))), Verdict(True, note)
