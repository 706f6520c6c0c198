"""The compact JSON layout of plan.json and state.json (pure): the same values in fewer bytes, read back
exactly. Ten thousand incidents are written by one run and thousands wait in state between runs, so what
every incident repeats decides both files' sizes.

Written under the serialization context key `COMPACT`; every reader also takes the older layouts (a
plan written before an upgrade, a state file of schema 3):
- line keys of the overlap: the first 64 bits of each line's identity, sorted and packed into one base64
  string (8 bytes a line instead of a quoted 24-digit hex string);
- a timeline: one series per (environment, version), `[environment, version, first minute, counts]`,
  where a negative number in `counts` skips that many minutes without occurrences;
- a stack frame: `[function, module, file, line, in_app, raw]`;
- a fingerprint part: `[name, value, contributes, hint]`, whose value is the index of the stack frame it
  names (`module.function`), or null when it is the incident's service or exception type, and whose hint
  is null when it repeats the previous part's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

COMPACT = "compact"  # serialization context key: write the compact layout
LINE_KEY_HEX = 16  # a line's key in the overlap: the first 64 bits of its identity (see `line_key`)
_KEY_BYTES = LINE_KEY_HEX // 2
_FRAME_FIELDS = ("function", "module", "file", "line", "in_app", "raw")
_PART_FIELDS = ("name", "value", "contributes", "hint")


def compact(context: object) -> bool:
    """Whether a serialization context asks for the compact layout."""
    return isinstance(context, Mapping) and bool(context.get(COMPACT))


def line_key(identity: str) -> str:
    """What the overlap remembers of a line: the first 64 bits of its identity. A fresh line is taken for
    one already counted only if these collide with one of the overlap's keys: with some 170,000 keys and a
    million lines a run, about once in ten billion runs."""
    return identity[:LINE_KEY_HEX]


def read_line_keys(value: object) -> object:
    """Line keys, sorted (they are a set: one order for equal sets), from the packed string or a list of ids
    (older files: full identities, cut to keys)."""
    if isinstance(value, str):
        try:
            blob = base64.b64decode(value, validate=True)
        except binascii.Error as e:
            raise ValueError(f"packed line keys are not base64: {e}") from e
        if len(blob) % _KEY_BYTES:
            raise ValueError(f"packed line keys are not a whole number of {_KEY_BYTES}-byte keys")
        digits = blob.hex()
        return tuple(digits[i : i + LINE_KEY_HEX] for i in range(0, len(digits), LINE_KEY_HEX))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(sorted(map(line_key, value)))
    return value


def write_line_keys(keys: Sequence[str]) -> str | list[str]:
    """Keys packed, sorted (they are a set); a list when some key is not 16 hex digits (hand-made ones)."""
    ordered = sorted(keys)
    joined = "".join(ordered)
    if len(joined) != LINE_KEY_HEX * len(ordered):
        return ordered
    try:
        return base64.b64encode(bytes.fromhex(joined)).decode("ascii")
    except ValueError:
        return ordered


Cell = tuple[int, str, str, int]  # (minute, environment, version, count): a TimelineCount


def write_timeline(cells: Sequence[Cell]) -> list[list[Any]] | None:
    """The timeline as series, or None when it is not in its canonical (sorted) order and series would
    not read back the same."""
    if any(cells[n] > cells[n + 1] for n in range(len(cells) - 1)):
        return None
    series: dict[tuple[str, str], list[Any]] = {}
    last: dict[tuple[str, str], int] = {}
    for minute, environment, version, count in cells:
        key = (environment, version)
        if key not in series:
            series[key] = [environment, version, minute, []]
        elif minute - last[key] > 1:
            series[key][3].append(last[key] + 1 - minute)
        series[key][3].append(count)
        last[key] = minute
    return list(series.values())


def read_timeline(value: object) -> object:
    """Timeline cells from series (compact), `[minute, environment, version, count]` arrays or objects."""
    if not isinstance(value, list | tuple) or not any(_is_series(item) for item in value):
        return value
    cells: list[Cell] = []
    for item in value:
        if not _is_series(item):
            raise ValueError("a timeline mixes series and cells")
        environment, version, minute, counts = item
        for n in counts:
            if not isinstance(n, int) or n == 0:
                raise ValueError("a timeline series holds a count that is not a whole number other than 0")
            if n < 0:
                minute -= n
            else:
                cells.append((minute, environment, version, n))
                minute += 1
    return sorted(cells)


def _is_series(item: object) -> bool:
    return isinstance(item, list | tuple) and len(item) == 4 and isinstance(item[0], str) and isinstance(item[3], list)


def write_frame(frame: Mapping[str, Any]) -> list[Any]:
    """A frame's fields as an array, in `_FRAME_FIELDS` order, trailing defaults left out."""
    row = [frame.get("function"), frame.get("module"), frame.get("file"), frame.get("line"),
           1 if frame.get("in_app") else 0, frame.get("raw", "")]  # fmt: skip
    defaults = [None, None, None, None, 0, ""]
    while len(row) > 1 and row[-1] == defaults[len(row) - 1]:
        row.pop()
    return row


def read_frame(value: object) -> object:
    """A frame from its array (compact) or object."""
    if isinstance(value, list | tuple):
        return dict(zip(_FRAME_FIELDS, value, strict=False))
    return value


def symbol(module: str | None, function: str) -> str:
    """`module.function` as a fingerprint part names a frame (before normalisation)."""
    return f"{module}.{function}" if module else function


def write_parts(parts: Sequence[Mapping[str, Any]], incident: Mapping[str, Any], frames: Sequence[str]) -> list[Any]:
    """Fingerprint parts as arrays, their values referring to the incident where they repeat it. `frames`:
    the symbols of the stack's frames, every exception's in order."""
    first = {s: n for n, s in reversed(list(enumerate(frames)))}
    rows: list[Any] = []
    previous_hint: str | None = None
    for part in parts:
        name, value, hint = part["name"], part["value"], part.get("hint", "")
        shown: str | int | None = value
        if name == "frame" and value in first:
            shown = first[value]
        elif name in ("service", "exception_type") and value and value == incident.get(name):
            shown = None
        rows.append([name, shown, 1 if part["contributes"] else 0, None if hint == previous_hint else hint])
        previous_hint = hint
    return rows


def read_parts(data: dict[str, Any]) -> dict[str, Any]:
    """An incident's raw fields with its fingerprint parts resolved from arrays (compact), when they are."""
    parts = data.get("fingerprint_parts")
    if not isinstance(parts, list | tuple) or not any(isinstance(p, list | tuple) for p in parts):
        return data
    frames = _frame_symbols(data.get("stack"))
    resolved: list[Any] = []
    previous_hint = ""
    for row in parts:
        if not isinstance(row, list | tuple) or len(row) != 4:
            raise ValueError("a fingerprint part in the compact layout is not [name, value, contributes, hint]")
        name, value, contributes, hint = row
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(frames):
                raise ValueError(f"a fingerprint part names frame {value}, which the stack does not have")
            value = frames[value]
        elif value is None:
            value = data.get(name)
        hint = previous_hint if hint is None else hint
        resolved.append({"name": name, "value": value, "contributes": contributes, "hint": hint})
        previous_hint = hint
    return {**data, "fingerprint_parts": resolved}


def _frame_symbols(stack: object) -> list[str]:
    if stack is None:
        return []
    exceptions = stack.get("exceptions", ()) if isinstance(stack, Mapping) else getattr(stack, "exceptions", ())
    out = []
    for exc in exceptions:
        frames = exc.get("frames", ()) if isinstance(exc, Mapping) else getattr(exc, "frames", ())
        for frame in frames:
            raw = read_frame(frame)
            if isinstance(raw, Mapping):
                out.append(symbol(raw.get("module"), str(raw.get("function", ""))))
            else:
                out.append(symbol(getattr(raw, "module", None), str(getattr(raw, "function", ""))))
    return out
