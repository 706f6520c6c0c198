"""Secret redaction: the rules, and the one Redactor that applies them.

A log line is redacted once, when it is parsed (incidents/events.py), so nothing downstream — plan,
findings, state, prompts, issues, messages — ever holds the raw text; sinks and prompts apply the same
Redactor again to text that did not come from a log line (traces, git output, model answers).

Names of secrets are evidence and stay (`secretName=orders-db-credentials`, `token_type=Bearer`);
values go. Every pattern runs in linear time: tokens start only where a token can start (a lookbehind,
not `\\b`, which lets a long dotted word be rescanned from every dot), and repeats that can fail late
are bounded. Pure: no I/O, no SDKs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_TAG = "[REDACTED:{}]"

Rule = Callable[[str], str]


@dataclass(frozen=True)
class SecretPattern:
    """A named secret shape; group `secret` (when present) is what gets replaced, the rest stays.

    `hints`: substrings one of which must be in the text (case-insensitively when `fold`) for the
    pattern to be tried at all — most lines hold no secret, and a substring test is far cheaper than
    a regex scan."""

    name: str
    regex: re.Pattern[str]
    hints: tuple[str, ...] = ()
    fold: bool = False
    check: Callable[[str], bool] | None = None  # the matched secret really is one (Luhn, entropy)

    def apply(self, text: str) -> str:
        """`text` with every match of this pattern replaced by its tag."""
        if self.hints:
            haystack = text.lower() if self.fold else text
            if not any(map(haystack.__contains__, self.hints)):  # map: the loop runs in C
                return text
        return self.regex.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        groups = match.groupdict()
        secret = groups.get("secret")
        if self.check is not None and not self.check(secret if secret is not None else match.group(0)):
            return match.group(0)
        tag = _TAG.format(self.name)
        return (groups.get("k") or "") + tag if secret is not None else tag


def _p(
    name: str, pattern: str, *hints: str, flags: int = 0, check: Callable[[str], bool] | None = None
) -> SecretPattern:
    return SecretPattern(name, re.compile(pattern, flags), tuple(hints), fold=bool(flags & re.I), check=check)


def _luhn_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if not 13 <= len(digits) <= 19:
        return False
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _has_digit_and_letter(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _opaque(value: str) -> bool:
    """A token rather than a word: digits and letters, or a long mixed-case run."""
    return _has_digit_and_letter(value) or (len(value) >= 20 and not value.islower() and not value.isupper())


# a token starts where no token character precedes it (see the module docstring on `\b`)
# …or right after a %-escape: a token in a URL-encoded URL (`next=%2Fcb%3Ftoken%3Dghp_…`) follows `%3D`
_PCT = r"(?<=%[0-9A-Fa-f]{2})"
_S = r"(?:(?<![A-Za-z0-9_\-])|" + _PCT + ")"

# issuers' token shapes, each with the literal it cannot appear without (tried only when that is present)
# fmt: off
_VENDOR: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"do[por]_v1_[a-f0-9]{64}", ("_v1_",)),
    (r"hv[sbr]\.[A-Za-z0-9_\-]{24,}", ("hvs.", "hvb.", "hvr.")),
    (r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shp",)),
    (r"pypi-AgE[A-Za-z0-9_\-]{50,}", ("pypi-",)),
    (r"dckr_pat_[A-Za-z0-9_\-]{20,}", ("dckr_",)),
    (r"lin_(?:api|oauth)_[A-Za-z0-9]{32,}", ("lin_",)),
    (r"NR(?:AK|II)-[A-Za-z0-9_\-]{27,32}", ("NRAK-", "NRII-")),
    (r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",)),
    (r"AT[AC]TT3[A-Za-z0-9_\-=]{30,}", ("TT3",)),
    (r"SK[a-f0-9]{32}(?![A-Za-z0-9])", ("SK",)),
    (r"(?:pub)?key-[a-f0-9]{32}(?![A-Za-z0-9])", ("key-",)),
    (r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}", ("sib-",)),
    (r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    (r"pul-[a-f0-9]{40}", ("pul-",)),
    (r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,}", ("atlasv1",)),
    (r"dp\.(?:st|pt|ct|sa|scim|audit)\.[A-Za-z0-9_\-.]{40,}", ("dp.",)),
    (r"sbp_[a-f0-9]{40}", ("sbp_",)),
    (r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.]{32,}", ("pscale_",)),
    (r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", ("pat",)),
    (r"(?:ntn_[A-Za-z0-9]{40,}|secret_[A-Za-z0-9]{43}(?![A-Za-z0-9]))", ("ntn_", "secret_")),
    (r"sntry[us]_[A-Za-z0-9_=+/.]{40,}", ("sntry",)),
    (r"bkua_[a-f0-9]{40}", ("bkua_",)),
    (r"gsk_[A-Za-z0-9]{48,}", ("gsk_",)),
    (r"r8_[A-Za-z0-9]{30,}", ("r8_",)),
    (r"tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}", ("tskey-",)),
    (r"CFPAT-[A-Za-z0-9_\-]{43}", ("CFPAT-",)),
    (r"EAAA[A-Za-z0-9_\-]{60,}", ("EAAA",)),
    (r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}", ("sq0",)),
    (r"AGE-SECRET-KEY-1[0-9A-Z]{58}", ("AGE-SECRET-KEY-",)),
    (r"figd_[A-Za-z0-9_\-]{40,}", ("figd_",)),
    (r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}", ("glsa_",)),
    (r"(?:fo1_[A-Za-z0-9_\-]{43}|FlyV1 fm\d_[A-Za-z0-9+/=_\-]{40,})", ("fo1_", "FlyV1")),
    (r"ops_eyJ[A-Za-z0-9+/=_\-]{40,}", ("ops_eyJ",)),
    (r"(?:rnd_[A-Za-z0-9]{32}|vercel_[A-Za-z0-9]{24,}|nfp_[A-Za-z0-9]{36}|pnu_[A-Za-z0-9]{36})",
     ("rnd_", "vercel_", "nfp_", "pnu_")),
    (r"(?:sgp_[a-f0-9]{16}_[a-f0-9]{40}|tfp_[A-Za-z0-9_\-]{44,})", ("sgp_", "tfp_")),
    (r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9+/=]{100,}", ("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE")),  # AWS session
    (r"[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{3}AZDO[A-Za-z0-9]{4}", ("AZDO",)),  # Azure DevOps
    (r"[A-Za-z0-9_\-.]{3}\dQ~[A-Za-z0-9_\-.~]{31,34}(?![A-Za-z0-9_~.\-])", ("Q~",)),  # Entra client secret
    (r"[a-f0-9]{36}NRAL", ("NRAL",)),  # New Relic license key
    (r"cf(?:ut|at|k)_[A-Za-z0-9]{40,50}", ("cfut_", "cfat_", "cfk_")),  # Cloudflare's scannable tokens
    (r"sb_secret_[A-Za-z0-9_\-]{20,}", ("sb_secret_",)),  # Supabase
    (r"rubygems_[a-f0-9]{48}", ("rubygems_",)),
    (r"sk\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}", ("sk.eyJ",)),  # Mapbox secret
    (r"HRKU-[A-Za-z0-9_\-]{20,}", ("HRKU-",)),  # Heroku
    (r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}", ("access_token$",)),  # Braintree
    (r"LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])", ("LTAI",)),  # Alibaba Cloud
    (r"A{22}[A-Za-z0-9%]{30,}", ("AAAAAAAAAAAAAAAAAAAAA",)),  # X/Twitter app bearer
    (r"EAA[A-Za-z0-9]{90,}", ("EAA",)),  # Meta Graph API
    (r"sl\.[A-Za-z0-9_\-]{120,}", ("sl.",)),  # Dropbox
    (r"(?:AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{50,})", ("AKCp", "cmVmdGtu")),  # JFrog
    (r"ATBB[A-Za-z0-9_=.\-]{32,}", ("ATBB",)),  # Bitbucket
    (r"hc[ax][a-z]{1,2}k_[A-Za-z0-9]{20,}", ("hcaik_", "hcxik_", "hcxlk_", "hcamk_")),  # Honeycomb
    (r"dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ("dt0",)),  # Dynatrace
    (r"oy2[a-z0-9]{43}(?![A-Za-z0-9])", ("oy2",)),  # NuGet
    (r"(?:shippo|duffel)_(?:live|test)_[A-Za-z0-9_\-=]{32,}", ("shippo_", "duffel_")),
    (r"EZ[AT]K[a-z0-9]{54}", ("EZAK", "EZTK")),  # EasyPost
    (r"GOOG1[A-Z0-9]{56}", ("GOOG1",)),  # Google Cloud Storage HMAC
    (r"AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{100,}", ("APA91b",)),  # Firebase Cloud Messaging
    (r"napi_[a-z0-9]{60,}", ("napi_",)),  # Neon
    (r"access-(?:production|development|sandbox)-[a-f0-9]{8}-[a-f0-9\-]{27}", ("access-",)),  # Plaid
    (r"(?:pplx-[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{60,})", ("pplx-", "xai-")),  # Perplexity, xAI
    (r"(?:rdme_[a-z0-9]{60,}|CLOJARS_[a-z0-9]{60}|ico-[A-Za-z0-9]{32}|tk-us-[A-Za-z0-9_\-]{48})",
     ("rdme_", "CLOJARS_", "ico-", "tk-us-")),
    (r"pat\.[A-Za-z0-9_\-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}", ("pat.",)),  # Harness
)
# fmt: on

BUILTIN_PATTERNS: tuple[SecretPattern, ...] = (
    _p(
        "private-key",
        # the body may be JSON-escaped (`\n`) and may lack its END line (a truncated line)
        r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:\\+[nr]|\s)*Proc-Type:[^\n\\]{0,100}(?:\\+n|\n)DEK-Info:[^\n\\]{0,200})?"
        r"[A-Za-z0-9+/=\s\\]*(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?",
        "PRIVATE KEY",
    ),
    _p("github-token", _S + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})", "gh", "github_pat"),
    _p("anthropic-key", _S + r"sk-ant-[A-Za-z0-9_\-]{20,}", "sk-ant-"),
    _p("openai-key", _S + r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}", "sk-"),
    _p(
        "aws-access-key",
        r"(?:(?<![A-Za-z0-9])|" + _PCT + r")(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        "AKIA",
        "ASIA",
        "ABIA",
        "ACCA",
    ),
    _p(
        # xoxc/xoxd are a browser session's token and cookie; the cookie is URL-encoded
        "slack-token",
        _S + r"(?:xox[abcdposre]-(?:[A-Za-z0-9\-]|%[0-9A-Fa-f]{2}){10,}|xapp-\d-[A-Za-z0-9-]{10,})",
        "xox",
        "xapp-",
    ),
    _p("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+", "hooks.slack"),
    _p(
        "teams-webhook",
        r"https://[\w.\-]{1,100}\.(?:webhook\.office\.com/webhookb2|office\.com/webhook)/[A-Za-z0-9@/_\-]+",
        "office.com/webhook",
    ),
    _p("discord-webhook", r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+", "/api/webhooks/"),
    _p(
        "discord-token",
        r"[MNO](?<![A-Za-z0-9_\-.][MNO])[A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}"
        r"(?![A-Za-z0-9_\-])",
        ".",
    ),
    _p(
        "stripe-key",
        _S + r"(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{24,})",
        "_live_",
        "_test_",
        "whsec_",
    ),
    _p("google-api-key", _S + r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])", "AIza"),
    _p(
        "google-oauth",
        _S + r"(?:GOCSPX-[A-Za-z0-9_\-]{20,}|ya29\.[A-Za-z0-9_\-]{20,}|1//0[A-Za-z0-9_\-]{40,})",
        "GOCSPX-",
        "ya29.",
        "1//0",
    ),
    _p(
        "gitlab-token",
        _S + r"(?:gl(?:pat|dt|rt|ptt|ft|imt|agent|oas|soat|cbt|rtr|ffct|feed)-[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*"
        r"|GR1348941[A-Za-z0-9_\-]{20})",
        "gl",
        "GR1348941",
    ),
    _p(
        "telegram-bot-token",
        r"\d(?:(?<![0-9]\d)|(?<=%[0-9A-Fa-f]{2}\d))\d{7,9}:(?:AA[A-Za-z0-9_\-]{30,40}|[A-Za-z0-9_\-]{35})(?![A-Za-z0-9_\-])",
        ":",
        check=lambda v: _opaque(v.split(":", 1)[1]) and not v.split(":", 1)[1].islower(),
    ),
    _p("npm-token", _S + r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", "npm_"),
    _p("sendgrid-key", _S + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])", "SG."),
    _p(
        "grafana-token",
        _S + r"(?:glc_[A-Za-z0-9_\-+/=]{32,}|glsa_[A-Za-z0-9_]{32,}|eyJrIjoi[A-Za-z0-9+/=]{40,})",
        "glc_",
        "glsa_",
        "eyJrIjoi",
    ),
    _p("huggingface-token", _S + r"hf_[A-Za-z0-9]{30,}", "hf_"),
    _p(
        "jwt",
        r"(?:(?<![A-Za-z0-9\-])|" + _PCT + r")eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        "eyJ",
    ),
    _p(
        "url-credentials",
        # the password runs to the last `@` before the host: passwords may hold `@` themselves
        r"(?<![A-Za-z0-9+.\-])(?P<k>[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/@\"'\\]{0,256}:)"
        r"(?P<secret>[^\s/\"'\\]{1,512})(?=@)",
        "://",
    ),
    _p(
        "authorization-header",
        # a header inside a URL-encoded URL too (`Authorization%3A%20Bearer%20…`)
        r"(?P<k>(?<![\w\-])(?:proxy-)?authorization\\{0,8}[\"']?[ \t]{0,8}(?:[:=]|%3A)(?:[ \t]|%20){0,8}\\{0,8}[\"']?"
        r"[ \t]{0,8}(?:(?:basic|bearer|token|digest|apikey|sso-key|ssws|negotiate|hmac|dpop)(?:[ \t]|%20){1,8})?)"
        r"(?P<secret>[^\s\"'\\,;]{4,})",
        "authorization",
        flags=re.I,
    ),
    _p(
        "bearer",
        r"(?P<k>(?<![\w\-])(?:bearer|basic|ssws)[ \t]{1,8})(?P<secret>[A-Za-z0-9_\-.+/~]{16,}=*)",
        *("bearer", "basic", "ssws"),
        flags=re.I,
    ),
    _p(
        # "token" is also a word: only an opaque run after it is taken for one
        "bearer",
        r"(?P<k>(?<![\w\-])token[ \t]{1,8})(?P<secret>[A-Za-z0-9_\-.+/~]{16,}=*)",
        "token",
        flags=re.I,
        check=_opaque,
    ),
    _p(
        "api-key-header",
        r"(?P<k>(?<![\w\-])x-(?:[a-z]+-)?(?:api|auth|access)-?(?:key|token)\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}"
        r"\\{0,8}[\"']?)(?P<secret>[^\s\"'\\,;]{8,})",
        "x-",
        flags=re.I,
    ),
)

_VENDOR_PATTERNS = tuple(
    _p("vendor-token", r"(?:(?<![A-Za-z0-9_\-.])|" + _PCT + ")(?:" + rx + ")", *hints) for rx, hints in _VENDOR
)


def _literal_trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, factored by common prefix: a flat alternation of ~100 literals is
    tried literal by literal at every position of every line, a trie branches once per character."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:  # a word ends here: whatever longer word shares this prefix matches through it
            return ""
        alternatives = [re.escape(ch) + build(child) for ch, child in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return build(trie)


_VENDOR_GATE = re.compile(_literal_trie(h for _, hints in _VENDOR for h in hints))


def redact_vendor_tokens(text: str) -> str:
    """The issuers' shapes of `_VENDOR`; one scan for all their literals first, since most lines have none."""
    if _VENDOR_GATE.search(text) is None:
        return text
    for pattern in _VENDOR_PATTERNS:
        text = pattern.apply(text)
    return text


_HEX_KEYS = _p(
    # Mailgun (`<32 hex>-<8 hex>-<8 hex>`) and Mailchimp (`<32 hex>-us<dc>`): no literal to look for, so the
    # token-start check comes after the first character, where the engine can skip ahead to a hex digit
    "vendor-token",
    r"[a-f0-9](?:(?<![A-Za-z0-9_\-.][a-f0-9])|(?<=%[0-9A-Fa-f]{2}[a-f0-9]))[a-f0-9]{31}-(?:[a-f0-9]{8}-[a-f0-9]{8}(?![A-Za-z0-9\-])|us\d{1,2}(?![A-Za-z0-9]))",
    "-",
)
_AWS_PAIR = _p(
    # the secret half of an AWS key pair has no prefix: a 40-character base64 run in a line that speaks
    # of AWS, keys or secrets
    "aws-secret-key",
    r"[A-Za-z0-9/+](?<![A-Za-z0-9/+=][A-Za-z0-9/+])[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=])",
    *("aws-access-key", "aws", "secret", "key", "credential"),
    flags=re.I,
    check=lambda v: any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v),
)
_GO_DSN = _p(
    # Go's MySQL driver: `user:password@tcp(host:3306)/db`, no scheme
    "dsn-credentials",
    r"(?P<k>(?<![\w.\-:/])[\w.\-]{1,64}:)(?P<secret>[^\s@/\"'\\]{1,256})(?=@(?:tcp|unix|udp)\()",
    "@tcp(",
    "@unix(",
    "@udp(",
)
_URL_CODE = _p(
    # Azure Functions keys and OAuth authorization codes ride in the query string as `code=`
    "url-code",
    r"(?P<k>(?<=[?&])code=)(?P<secret>[A-Za-z0-9_\-%/+=.]{20,})",
    "code=",
    check=_opaque,
)
_CLI_FLAG = _p(
    # the options every tool names the same way; any value goes, short or not
    "cli-flag",
    r"(?P<k>(?<![\w\-])--?(?:password|passwd|pass|token|secret|api-key|apikey|client-secret|auth-token)[ \t]{1,8})"
    r"(?P<secret>[^\s\"'\-][^\s\"']{3,})",
    "-password",
    "-passwd",
    "-pass",
    "-token",
    "-secret",
    "-api",
    "-client-secret",
    "-auth-token",
    flags=re.I,
)
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
        kind = _key_class(match.group("name"))
        value = match.group("secret").rstrip("'\",;:.)]")  # the sentence's punctuation is not the value's
        if kind is None or not _is_secret_value(value, kind):
            return match.group(0)
        return (
            match.group(0)[: match.start("secret") - match.start()]
            + _TAG.format("cli-flag")
            + match.group("secret")[len(value) :]
        )

    return _CLI_OPTION.sub(replace, text)


_VAULT_LEGACY = _p(
    "vault-token",
    r"(?<![A-Za-z0-9_\-.])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9_\-.])",
    "s.",
    check=lambda v: _has_digit_and_letter(v[2:]) and not v[2:].islower() and not v[2:].isupper(),
)
_EMAIL = _p(
    "email",
    # `%40`: an address in a query string (`?email=maria%40example.com`); a local part right after an `@` is
    # no address but the tail of a path segment (cnpm installs `node_modules/_pkg@2.0.2@pkg.io/`)
    r"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9._%+\-]{1,64}(?:@|%40)[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
    "@",
    "%40",
)
# a colon right after the number ends a sentence (`card 4111 …: declined`) unless a field or port follows it;
# after a %-escape (`%204111…`) the number starts past the escape's two hex digits
_CARD = re.compile(
    r"[2-6](?<!%[2-6])(?:(?<![\d.\-][2-6])|(?<=%[0-9A-Fa-f]{2}[2-6]))(?<!\d:[2-6])"
    r"\d{3}(?:[ -]?\d){9,15}(?![\d.\-]|:[\w/])"
)
_DIGIT = re.compile(r"\d")  # the card pattern needs one: most text is ruled out by a scan in C
# a number that is the value of an id field (`dd.trace_id`, `spanId`, `order_id`) is an id, Luhn or not
_ID_FIELD = re.compile(r"(?:id|ID|Id)\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}\\{0,8}[\"']?$")


def card_shaped(text: str) -> bool:
    """Whether `text` holds a number card redaction would check: the one rule whose outcome depends on
    the digits' values (Luhn), not only on the text's shape."""
    return _DIGIT.search(text) is not None and _CARD.search(text) is not None


def redact_cards(text: str) -> str:
    """Luhn-valid 13-19 digit numbers (spaces and dashes allowed), unless an id field holds them."""
    if _DIGIT.search(text) is None:
        return text

    def replace(match: re.Match[str]) -> str:
        if not _luhn_ok(match.group(0)) or _ID_FIELD.search(text, max(0, match.start() - 24), match.start()):
            return match.group(0)
        return _TAG.format("card-number")

    return _CARD.sub(replace, text)


# --- assignments: `<key><sep><value>` where the key names a secret ----------------------------------------------
#
# Found in two steps so the scan stays linear: a key regex (bounded, starting only at a token start) finds
# keys that contain a secret word; the key's words decide whether its value is a secret; only then is the
# value matched, at the quoting level the key was written at (`"k": "v"`, `\"k\": \"v\"`, `'k': 'v'`, `k=v`).

_KEYWORD = re.compile(
    r"pass|pw|secret|token|key|credential|auth|sig|private|sess|sid|cookie"
)  # searched in lowercased text
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


def _key_class(key: str) -> str | None:
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


def _is_secret_value(value: str, kind: str) -> bool:
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
        return len(bare) >= 16 and _has_digit_and_letter(bare) and not _UUID.fullmatch(bare)
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
        kind = _key_class(text[start:key_end])
        value = (_XML_TEXT if xml else _VALUE).match(text, sep.end()) if kind is not None else None
        if kind is None or value is None:
            continue
        group = next(g for g in ("v1", "v2", "v3", "v4", "v5") if value.groupdict().get(g) is not None)
        if not _is_secret_value(value.group(group), kind):
            if group == "v4":  # an unquoted value holds no quoted assignment: not rescanned (`sid=sid=…` stays linear)
                key_end = value.end(group)
            continue
        out += [text[pos : value.start(group)], _TAG.format("assignment")]
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
        kind = _key_class(pair.group("name"))
        value = _VALUE.match(text, pair.end()) if kind is not None and pair.start() >= pos else None
        if kind is None or value is None:
            continue
        group = next(g for g in ("v1", "v2", "v3", "v4") if value.group(g) is not None)
        if _is_secret_value(value.group(group), kind):
            out += [text[pos : value.start(group)], _TAG.format("assignment")]
            pos = value.end(group)
    return "".join(out) + text[pos:] if out else text


def _named_secret(pair: dict[Any, Any]) -> str | None:
    """The key holding a secret in a decoded name/value pair, or None."""
    names = [v for k, v in pair.items() if isinstance(k, str) and isinstance(v, str) and _NAME_FIELD.fullmatch(k)]
    values = [k for k, v in pair.items() if isinstance(k, str) and isinstance(v, str) and _VALUE_FIELD.fullmatch(k)]
    if len(names) != 1 or len(values) != 1:
        return None
    kind = _key_class(names[0])
    return values[0] if kind is not None and _is_secret_value(pair[values[0]], kind) else None


_LABEL_CACHE = 4096


class Redactor:
    """Replaces secrets with `[REDACTED:<kind>]`; built-in patterns plus user ones (service map `redaction`)."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        custom = tuple(_p(f"custom-{i + 1}", p) for i, p in enumerate(extra_patterns))
        self._labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self._rules: tuple[tuple[str, Rule], ...] = (
            *((p.name, p.apply) for p in (*BUILTIN_PATTERNS, *custom)),
            ("vendor-token", redact_vendor_tokens),
            *((p.name, p.apply) for p in (_HEX_KEYS, _VAULT_LEGACY, _AWS_PAIR, _GO_DSN, _URL_CODE, _CLI_FLAG)),
            ("cli-flag", redact_cli_options),
            ("assignment", redact_assignments),
            ("assignment", redact_name_value_pairs),
            (_EMAIL.name, _EMAIL.apply),
            ("card-number", redact_cards),
        )

    def redact(self, text: str) -> str:
        """Text with every recognised secret replaced."""
        for _name, rule in self._rules:
            text = rule(text)
        return text

    def findings(self, text: str) -> list[str]:
        """Names of the rules that match (for tests and reports, never the values)."""
        return [name for name, rule in self._rules if rule(text) != text]

    def redact_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """Label values redacted; a stream's labels repeat on every line, so the answers are remembered."""
        key = tuple(labels.items())
        cached = self._labels.get(key)
        if cached is None:
            if len(self._labels) >= _LABEL_CACHE:
                self._labels.clear()
            cached = self._labels[key] = self.redact_tree(labels)
        return dict(cached)

    def redact_tree(self, value: Any) -> Any:
        """A decoded JSON value with every string redacted, and every value of a secret-named key."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_tree(v) for v in value]
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            held = _named_secret(value)
            for key, item in value.items():
                kind = _key_class(key) if isinstance(key, str) else None
                if key == held or (
                    kind is not None and isinstance(item, str | int) and _is_secret_value(str(item), kind)
                ):
                    out[key] = _TAG.format("assignment")
                else:
                    out[key] = self.redact_tree(item)
            return out
        return value


@functools.lru_cache(maxsize=8)
def redactor_for(extra_patterns: tuple[str, ...] = ()) -> Redactor:
    """One compiled Redactor per set of user patterns (parsing asks for it once per line)."""
    return Redactor(extra_patterns)
