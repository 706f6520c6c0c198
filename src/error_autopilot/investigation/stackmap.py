"""Stack frames → repository paths (pure: works on a file listing, never on the disk).

Never returns a path outside the repository: candidates come only from the listing itself."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from error_autopilot.domain.stack import Frame, StackTrace

_SITE = re.compile(r".*/(?:site|dist)-packages/")
_DEPLOY_ROOTS = ("/app/", "/srv/", "/opt/app/", "/usr/src/app/", "/code/", "/workspace/", "/src/", "/home/app/")


def _suffix_index(files: Sequence[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for path in files:
        index.setdefault(posixpath.basename(path), []).append(path)
    return index


def _best(candidates: list[str], hint: str) -> str | None:
    """The candidate whose path shares the longest suffix with `hint`."""
    if not candidates:
        return None

    def score(path: str) -> int:
        a, b = path.split("/")[::-1], hint.strip("/").split("/")[::-1]
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))

    return max(candidates, key=lambda p: (score(p), -len(p)))


def map_frame(frame: Frame, files: Sequence[str], index: dict[str, list[str]] | None = None) -> str | None:
    """The repository path of a frame, or None."""
    index = index if index is not None else _suffix_index(files)
    file = (frame.file or "").replace("\\", "/")
    if not file or ".." in file.split("/"):
        return None
    name = posixpath.basename(file)
    if frame.module and "/" not in file and "." in frame.module:  # JVM/.NET: package + file name
        package = frame.module.rsplit(".", 1)[0].split("$")[0]
        return _best(index.get(name, []), "/".join([*package.split("."), name]))
    hint = _SITE.sub("", file)
    for root in _DEPLOY_ROOTS:
        if hint.startswith(root):
            hint = hint[len(root) :]
            break
    return _best(index.get(name, []), hint)


def map_stack(stack: StackTrace, files: Sequence[str]) -> list[tuple[Frame, str]]:
    """In-app frames that map to a file, throwing exception first, in order."""
    index = _suffix_index(files)
    mapped = []
    for frame in stack.in_app_frames():
        path = map_frame(frame, files, index)
        if path is not None:
            mapped.append((frame, path))
    return mapped
