"""Whether a key names a secret (`password`, `client_secret`, `apiKey`) — and how sure that is — and whether
a value held under such a key looks like a secret rather than a name, a placeholder or a path.

Names of secrets are evidence and stay (`secretName=orders-db-credentials`, `token_type=Bearer`); only
values go. Shared by every rule that judges a value by the name it is given: assignments, name/value pairs,
command-line options and decoded JSON.
"""

from __future__ import annotations

import re

from error_autopilot.redaction.shapes import has_digit_and_letter

_WORDS = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|[^A-Za-z]|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")
# fmt: off
_PASSWORD_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "pw", "pass", "passw", "pword", "passcode", "credential", "credentials",
    "creds"
})
_TOKEN_WORDS = frozenset({
    "secret", "secrets", "token", "tokens", "sig", "signature", "auth", "jwt", "sas", "private"
})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "private", "account", "secret", "shared", "master", "signing", "encryption", "auth", "app",
    "client", "license", "subscription", "storage", "sas", "webhook", "service", "admin", "write", "read", "ingest",
    "ingestion", "sdk", "server", "consumer", "hmac", "primary", "secondary", "dd", "management", "publishable",
    "application", "personal", "deploy", "bot", "integration"
})
# values of these are taken for secrets only when they look random (cache keys, ids and names do not)
_OPAQUE_ONLY_WORDS = frozenset({"key", "keys"})
_SESSION_WORDS = frozenset({"cookie", "cookies", "session", "sessionid", "jsessionid", "sid"})
# `<word>_id` is the secret itself for these: vault's secret_id, a session's id
_ID_IS_THE_SECRET = frozenset({"secret", "secrets", "session"})
_GLUED = ("password", "passwd", "secret", "apikey", "accesskey", "secretkey", "privatekey", "accountkey", "token")
# a word after the secret word makes the key a name of, or a fact about, the secret — not the secret
_ABOUT = frozenset({
    "name", "names", "type", "types", "kind", "ref", "path", "file", "filename", "length", "len", "count", "size",
    "expires", "expiry", "expiration", "expired", "ttl", "at", "version", "header", "headers", "field", "policy",
    "url", "uri", "endpoint", "provider", "status", "mode", "format", "hint", "label", "mount", "source", "env",
    "error", "errors", "message", "msg", "reason", "rotation", "rotated", "created", "updated", "age", "scope",
    "scopes", "audience", "issuer", "algorithm", "alg", "arn", "id", "ids", "attempts", "retries", "reset",
    "required", "manager", "store", "vault", "valid", "validation", "invalid", "missing", "set", "present",
    "enabled", "strength", "prefix", "suffix", "last4", "fingerprint", "usage", "encoder", "encoding", "service",
    "class", "owner", "index", "fn", "func", "function", "method", "limit", "timeout"
})
_NOT_A_VALUE = frozenset({
    "true", "false", "null", "none", "nil", "undefined", "required", "missing", "empty", "invalid", "expired",
    "redacted", "masked", "hidden", "filtered", "unset", "set", "present", "ok", "yes", "no", "n/a", "na", "-",
    "not-set", "notset", "default", "omitted", "bearer", "basic"
})
# fmt: on
_PLACEHOLDER = re.compile(
    r"\*+|x{3,}|X{3,}|\[(?:REDACTED|FILTERED|MASKED)[^\]]*\]?.*|<[^>]*>|\$\{[^}]*\}?|\{\{.*|%[sd]"
)
_NAMELIKE = re.compile(r"(?:[A-Z]?[a-z]+|[A-Z]+)(?:[-_./ ](?:[A-Z]?[a-z]+|[A-Z]+))*")
_SOURCE_FILE = re.compile(
    r"\.(?:java|kt|kts|scala|groovy|py|go|js|mjs|cjs|jsx|ts|tsx|cs|fs|vb|rb|php|swift|rs|c|cc|cpp|h|hpp|ex|exs|erl|clj"
    r"|dart|lua)$",
    re.I,
)
# where a key is kept (`--private-key /etc/ssl/orders.pem`): lowercase segments, which random base64 never is
_FILE_PATH = re.compile(r"(?:~|\.{1,2})?(?:/[a-z0-9_.\-]{1,64}){2,}/?")
_FILE_NAME = re.compile(r"\.[a-z][a-z0-9]{1,4}$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def key_class(key: str) -> str | None:
    """`password`, `token`, `session` or `key` (how sure the key is that its value is a secret), or None."""
    if _SOURCE_FILE.search(key):
        return None  # `token_cache.js:120:7` is a stack frame, not an assignment
    words = [w.lower() for w in _WORDS.findall(key)]
    found: str | None = None
    for i, word in enumerate(words):
        if word in _PASSWORD_WORDS or word.endswith(("password", "passwd")):
            found = "password"
        elif word in _TOKEN_WORDS or word.endswith(_GLUED):
            found = "token" if found != "password" else found
        elif word in _SESSION_WORDS or word.endswith(("sessid", "sessionid")):
            found = found or "session"
        elif word in _OPAQUE_ONLY_WORDS and i > 0 and words[i - 1] in ("public", "pub"):
            continue  # a public key is published on purpose
        elif word in _OPAQUE_ONLY_WORDS:
            qualified = i > 0 and (words[i - 1] in _KEY_QUALIFIERS or words[i - 1] in _TOKEN_WORDS)
            found = found or ("token" if qualified else "key")
        else:
            continue
        rest = words[i + 1 :]
        if rest and rest[0] in _ABOUT and not (rest[0] == "id" and word in _ID_IS_THE_SECRET):
            return None  # secretName, token_type, password_length, key_id (vault's secret_id is a secret)
    return found


def is_secret_value(value: str, kind: str) -> bool:
    bare = value.strip().strip("\\\"'")
    # `(using password: YES)`: MySQL saying whether one was sent
    if not bare or bare.rstrip(")]}").lower() in _NOT_A_VALUE or _PLACEHOLDER.fullmatch(bare):
        return False
    if kind == "password":
        return not (bare.isdigit() and len(bare) < 4)
    if kind == "token":
        # names (`orders-db-credentials`) and short words (`anonymous`) are not secrets; a long word may be
        named = _NAMELIKE.fullmatch(bare) is not None and (len(bare) <= 12 or any(c in bare for c in "-_./ "))
        return (
            len(bare) >= 6 and not named and not (bare.isdigit() and len(bare) < 10) and not _FILE_PATH.fullmatch(bare)
        )
    if kind == "session":  # session ids are credentials; UUIDs there are more often request or user ids
        return len(bare) >= 16 and has_digit_and_letter(bare) and not _UUID.fullmatch(bare)
    # a bare `key`: cache keys, object keys, ids — only an opaque random run is taken for a secret
    return (
        len(bare) >= 20
        and re.fullmatch(r"[A-Za-z0-9+/=_\-.~]+", bare) is not None
        and not _UUID.search(bare)
        and not re.fullmatch(r"[0-9a-fA-F]+", bare)
        and not _FILE_NAME.search(bare)  # an object key (`Exports/2026/Orders-Q4.csv`)
        and any(c.isupper() for c in bare)
        and any(c.islower() for c in bare)
        and any(c.isdigit() for c in bare)
    )
