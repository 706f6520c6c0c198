"""The named secret patterns: well-known token shapes (GitHub, AWS, Slack, JWT, private keys…), secrets
inside URLs and headers, and the prefix-less shapes that need a word nearby or a check to be told apart.

The order the Redactor tries them in is the Redactor's; this module only names them.
"""

from __future__ import annotations

import re

# short names keep the long regex lines readable and within the line length
from error_autopilot.redaction.pattern import AFTER_ESCAPE as _PCT
from error_autopilot.redaction.pattern import TOKEN_START as _S
from error_autopilot.redaction.pattern import SecretPattern
from error_autopilot.redaction.pattern import secret_pattern as _p
from error_autopilot.redaction.shapes import has_digit_and_letter, opaque

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
        check=lambda v: opaque(v.split(":", 1)[1]) and not v.split(":", 1)[1].islower(),
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
        check=opaque,
    ),
    _p(
        "api-key-header",
        r"(?P<k>(?<![\w\-])x-(?:[a-z]+-)?(?:api|auth|access)-?(?:key|token)\\{0,8}[\"']?[ \t]{0,8}[:=][ \t]{0,8}"
        r"\\{0,8}[\"']?)(?P<secret>[^\s\"'\\,;]{8,})",
        "x-",
        flags=re.I,
    ),
)

HEX_KEYS = _p(
    # Mailgun (`<32 hex>-<8 hex>-<8 hex>`) and Mailchimp (`<32 hex>-us<dc>`): no literal to look for, so the
    # token-start check comes after the first character, where the engine can skip ahead to a hex digit
    "vendor-token",
    r"[a-f0-9](?:(?<![A-Za-z0-9_\-.][a-f0-9])|(?<=%[0-9A-Fa-f]{2}[a-f0-9]))[a-f0-9]{31}-(?:[a-f0-9]{8}-[a-f0-9]{8}(?![A-Za-z0-9\-])|us\d{1,2}(?![A-Za-z0-9]))",
    "-",
)
AWS_PAIR = _p(
    # the secret half of an AWS key pair has no prefix: a 40-character base64 run in a line that speaks
    # of AWS, keys or secrets
    "aws-secret-key",
    r"[A-Za-z0-9/+](?<![A-Za-z0-9/+=][A-Za-z0-9/+])[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=])",
    *("aws-access-key", "aws", "secret", "key", "credential"),
    flags=re.I,
    check=lambda v: any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v),
)
GO_DSN = _p(
    # Go's MySQL driver: `user:password@tcp(host:3306)/db`, no scheme
    "dsn-credentials",
    r"(?P<k>(?<![\w.\-:/])[\w.\-]{1,64}:)(?P<secret>[^\s@/\"'\\]{1,256})(?=@(?:tcp|unix|udp)\()",
    "@tcp(",
    "@unix(",
    "@udp(",
)
URL_CODE = _p(
    # Azure Functions keys and OAuth authorization codes ride in the query string as `code=`
    "url-code",
    r"(?P<k>(?<=[?&])code=)(?P<secret>[A-Za-z0-9_\-%/+=.]{20,})",
    "code=",
    check=opaque,
)
CLI_FLAG = _p(
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

VAULT_LEGACY = _p(
    "vault-token",
    r"(?<![A-Za-z0-9_\-.])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9_\-.])",
    "s.",
    check=lambda v: has_digit_and_letter(v[2:]) and not v[2:].islower() and not v[2:].isupper(),
)
EMAIL = _p(
    "email",
    # `%40`: an address in a query string (`?email=maria%40example.com`); a local part right after an `@` is
    # no address but the tail of a path segment (cnpm installs `node_modules/_pkg@2.0.2@pkg.io/`)
    r"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9._%+\-]{1,64}(?:@|%40)[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
    "@",
    "%40",
)
