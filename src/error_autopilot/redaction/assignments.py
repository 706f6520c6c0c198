"""Values named by a secret word: `<key><sep><value>` assignments in any quoting (`password=…`,
`"client_secret": "…"`, `\\"apiKey\\":\\"…\\"`, XML elements), name/value pairs whose name names a secret,
and command-line options named like secrets. The name stays, the value goes.
"""

from __future__ import annotations

import re
from typing import Any

from error_autopilot.redaction.pattern import TAG
from error_autopilot.redaction.secret_names import is_secret_value, key_class

# --- assignments: `<key><sep><value>` where the key names a secret ----------------------------------------------
#
# Found in two steps so the scan stays linear: a key regex (bounded, starting only at a token start) finds
# keys that contain a secret word; the key's words decide whether its value is a secret; only then is the
# value matched, at the quoting level the key was written at (`"k": "v"`, `\"k\": \"v\"`, `'k': 'v'`, `k=v`).

# a key holds one of these words, in lowercased text: a text with none holds no assignment (the Redactor skips it)
KEYWORDS = ("pass", "pw", "secret", "token", "key", "credential", "auth", "sig", "private", "sess", "sid", "cookie")
_KEYWORD = re.compile("|".join(KEYWORDS))
_KEY_HEAD = re.compile(r"[\w.\-]*$")  # searched in the 41 characters before a secret word
_KEY_TAIL = re.compile(r"[\w.\-]{0,41}")
_KEY_RUN = re.compile(r"[\w.\-]*")
# `%3D`/`%3A`: a query string inside a URL-encoded URL (`redirect=…%3Faccess_token%3D…`); `>`: an XML element
_SEPARATOR = re.compile(r"(?P<kq>\\{0,8}[\"']?)[ \t]{0,8}(?P<sep>=>|[:=>]|%3[DdAa](?:%20)*)[ \t]{0,8}")
_VALUE = re.compile(
    r"(?:[bBrRuU]{1,2}(?=[\"']))?"  # Python's b'…', r'…'
    r"(?:\"(?P<v1>(?:[^\"\\\r\n]|\\.){1,4096})"  # plain JSON string (escapes inside are part of the value)
    r"|(?P<q>\\{1,8}[\"'])(?P<v2>(?:(?!(?P=q))[^\r\n]){1,4096})"  # a string inside an escaped string (JSON in JSON)
    r"|'(?P<v3>[^'\r\n]{1,4096})"
    r"|(?P<v4>[^\s\"'\\,;&]{1,4096}))"
)
_XML_TEXT = re.compile(r"(?P<v5>[^<\r\n]{1,4096})")


def _key_at(text: str, word: re.Match[str]) -> tuple[int, int, bool]:
    """The bounds of the key token around a secret word, and whether it can be a key at all (not too
    long, not a path segment); a run too long to be a key is skipped whole."""
    head = _KEY_HEAD.search(text, max(0, word.start() - 41), word.start())
    start = head.start() if head else word.start()
    tail = _KEY_TAIL.match(text, word.end())
    end = tail.end() if tail else word.end()
    if word.start() - start > 40 or end - word.end() > 40:
        run = _KEY_RUN.match(text, word.end())
        return start, run.end() if run else end, False
    return start, end, not (start > 0 and text[start - 1] == "/")


def redact_assignments(text: str) -> str:
    """Values of `password=…`, `"client_secret": "…"`, `\\"apiKey\\":\\"…\\"`, `pwd=4@…` replaced; names kept."""
    out: list[str] = []
    pos = 0  # end of the last redacted value
    key_end = 0  # end of the last key looked at: several secret words in one key are one key
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lowercase to two: positions would drift
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    for word in _KEYWORD.finditer(lowered):
        if word.start() < max(pos, key_end):
            continue
        start, key_end, possible = _key_at(text, word)
        if not possible:
            continue
        sep = _SEPARATOR.match(text, key_end)
        if sep is None or (sep.group("sep") == ":" and text[start - 1 : start] == ":"):
            continue  # no assignment; or a field of an ARN or URN (`:secret:orders/db`)
        xml = sep.group("sep") == ">"
        if xml and (text[start - 1 : start] != "<" or sep.group("kq")):
            continue  # `>` separates only an XML element's name from its text
        kind = key_class(text[start:key_end])
        value = (_XML_TEXT if xml else _VALUE).match(text, sep.end()) if kind is not None else None
        if kind is None or value is None:
            continue
        group = next(g for g in ("v1", "v2", "v3", "v4", "v5") if value.groupdict().get(g) is not None)
        if not is_secret_value(value.group(group), kind):
            if group == "v4":  # an unquoted value holds no quoted assignment: not rescanned (`sid=sid=…` stays linear)
                key_end = value.end(group)
            continue
        out += [text[pos : value.start(group)], TAG.format("assignment")]
        pos = value.end(group)
    return "".join(out) + text[pos:] if out else text


# a secret named by one field and held by the next: Kubernetes env (`{"name": "DB_PASSWORD", "value": "…"}`),
# CloudFormation parameters (`ParameterKey`/`ParameterValue`)
_NAME_FIELD = re.compile(r"(?:parameter_?)?(?:name|key)", re.I)
_VALUE_FIELD = re.compile(r"(?:parameter_?)?value", re.I)
_NAME_VALUE = re.compile(
    r"(?<![\w\-])(?:[Pp]arameter_?)?(?:[Nn]ame|[Kk]ey)\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}\\{0,8}[\"']?"
    r"(?P<name>[A-Za-z_][\w.\-]{0,63})\\{0,8}[\"']?[ \t]{0,8},[ \t]{0,8}\\{0,8}[\"']?"
    r"(?:[Pp]arameter_?)?[Vv]alue\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}"
)


def redact_name_value_pairs(text: str) -> str:
    """The value of a name/value pair whose name names a secret; the name stays."""
    if "alue" not in text:
        return text
    out: list[str] = []
    pos = 0
    for pair in _NAME_VALUE.finditer(text):
        kind = key_class(pair.group("name"))
        value = _VALUE.match(text, pair.end()) if kind is not None and pair.start() >= pos else None
        if kind is None or value is None:
            continue
        group = next(g for g in ("v1", "v2", "v3", "v4") if value.group(g) is not None)
        if is_secret_value(value.group(group), kind):
            out += [text[pos : value.start(group)], TAG.format("assignment")]
            pos = value.end(group)
    return "".join(out) + text[pos:] if out else text


def named_secret(pair: dict[Any, Any]) -> str | None:
    """The key holding a secret in a decoded name/value pair, or None."""
    values = [k for k, v in pair.items() if isinstance(k, str) and isinstance(v, str) and _VALUE_FIELD.fullmatch(k)]
    if len(values) != 1:  # most objects have no value field: their names are not looked for
        return None
    names = [v for k, v in pair.items() if isinstance(k, str) and isinstance(v, str) and _NAME_FIELD.fullmatch(k)]
    if len(names) != 1:
        return None
    kind = key_class(names[0])
    return values[0] if kind is not None and is_secret_value(pair[values[0]], kind) else None


# any other option whose name names a secret (`--refresh-token x`, `--heroku-api-key x`, `'--pwd', 'x'` in an
# argv list): the option's words decide, as a key's do, and the value must look like one
_CLI_OPTION = re.compile(
    r"-(?<![\w\-]-)-?(?P<name>[A-Za-z][A-Za-z0-9_.\-]{0,40})(?P<gap>\\{0,8}[\"']?,?[ \t]{1,8}\\{0,8}[\"']?)"
    r"(?P<secret>[^\s\"'\\\-][^\s\"'\\]{3,4096})"
)


def redact_cli_options(text: str) -> str:
    """Values of command-line options named like secrets; the option itself stays."""
    if "-" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        kind = key_class(match.group("name"))
        value = match.group("secret").rstrip("'\",;:.)]")  # the sentence's punctuation is not the value's
        if kind is None or not is_secret_value(value, kind):
            return match.group(0)
        return (
            match.group(0)[: match.start("secret") - match.start()]
            + TAG.format("cli-flag")
            + match.group("secret")[len(value) :]
        )

    return _CLI_OPTION.sub(replace, text)
