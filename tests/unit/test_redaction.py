"""The redaction rules over the generated corpus, and redaction at the door (parse_entry)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.events import LogEntry
from error_autopilot.domain.traces import Span, SpanEvent, Trace
from error_autopilot.incidents.events import parse_entry
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.traces import exception_stacktrace, incident_from_trace, summarise
from error_autopilot.redaction import Redactor
from tests.conftest import TEST_FIXTURES
from tests.support.linearity import MAX_LARGE_S, costs, linear_bound

SECRETS = TEST_FIXTURES / "secrets"
CORPUS: dict[str, Any] = json.loads((SECRETS / "generated.json").read_text(encoding="utf-8"))
POSITIVES: list[dict[str, str]] = CORPUS["positives"]
NEGATIVES: list[dict[str, str]] = CORPUS["negatives"]
SMAP = ServiceMap.model_validate(
    {
        "environments": {"prod": {"loki": {"url": "http://loki", "selector": '{env="prod"}'}}},
        "services": {"orders": {"repo": "acme/orders", "packages": ["com.acme"]}},
    }
)


def pieces(value: str, size: int = 12) -> set[str]:
    """Every `size`-character piece of `value` (the whole value when it is shorter)."""
    return {value[i : i + size] for i in range(max(1, len(value) - size + 1))}


def leaks(sample: dict[str, str], text: str) -> bool:
    """The secret, or any 12-character piece of its random part, is in `text`."""
    return sample["secret"] in text or any(p in text for p in pieces(sample["random"]))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("secrets_generate", SECRETS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_is_the_generators_output_and_large_enough() -> None:
    assert _generator().build() == CORPUS, "rerun tests/fixtures/secrets/generate.py"
    assert len(POSITIVES) >= 200 and len(NEGATIVES) >= 50
    assert len({(p["provider"], p["pattern"]) for p in POSITIVES}) >= 50
    assert all(len(p["random"]) >= 12 and p["random"][:12] in p["secret"] for p in POSITIVES)


def test_recall_and_look_alikes_kept(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    missed = [f"{p['provider']} {p['pattern']}" for p in POSITIVES if leaks(p, redactor.redact(p["line"]))]
    lost = [n["kind"] for n in NEGATIVES if n["value"] not in redactor.redact(n["line"])]
    recall, kept = 1 - len(missed) / len(POSITIVES), 1 - len(lost) / len(NEGATIVES)
    with capsys.disabled():
        print(f"\ngenerated corpus: recall {recall:.3f} ({len(POSITIVES) - len(missed)}/{len(POSITIVES)}), "
              f"look-alikes kept {kept:.3f} ({len(NEGATIVES) - len(lost)}/{len(NEGATIVES)}); "
              f"missed {missed}; lost {lost}")  # fmt: skip
    assert recall >= 0.995, missed
    assert kept >= 0.97, lost


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('{"msg":"bad","body":"{\\"client_secret\\": \\"Zq81kPm2Vx0Lrt5Wq9\\"}"}', "Zq81kPm2Vx0Lrt5Wq9"),
        ('{"msg":"x","b":"{\\"a\\":\\"{\\\\\\"password\\\\\\":\\\\\\"deepHidden42\\\\\\"}\\"}"}', "deepHidden42"),
        ('{"msg":"db failed: host=db pwd=4@Kq8v0Lmx user=app"}', "4@Kq8v0Lmx"),
        ("ERROR login failed pwd=12#zzTop99 user=bob", "12#zzTop99"),
        ("ERROR {'user': 'bob', 'password': 'correct horse battery'}", "correct horse battery"),
        ('ERROR {"password": "with \\"quote\\" inside"}', 'with \\"quote\\" inside'),
        ("ERROR blob read failed sig=Xk2%2Bq9LmP0vA8sR3tU6wY1zB4cD7eF%3D&se=2026", "Xk2%2Bq9LmP0vA8sR3tU6wY1zB4c"),
        ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=aB3+dE5/fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE=",
         "aB3+dE5/fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE="),
        ("ERROR mailgun 401 using 9f8e7d6c5b4a39281706f5e4d3c2b1a0-3c2b1a09-8f7e6d5c", "9f8e7d6c5b4a39281706"),
        ("ERROR psql --password S3cr3t!Pass -h db", "S3cr3t!Pass"),
        ("ERROR redis://:Kx81mQ2pW0vL@cache:6379 refused", "Kx81mQ2pW0vL"),
        ("ERROR postgres://app:p@ss:w0rd@db:5432/orders refused", "p@ss:w0rd"),
        ("ERROR sql.Open root:cnqcMUP6n0a0uARx@tcp(db:3306)/orders: refused", "cnqcMUP6n0a0uARx"),
        ("ERROR invalid secret key p1vRt/1fjORS+6ilI8ihN5KXSc7Tvo+hBKqFYY+k for user", "p1vRt/1fjORS+6ilI8ihN5"),
        ("ERROR POST https://f.azurewebsites.net/api/sync?code=Zk81mQ2pW0vLrt5Wq9Kd7Xy== 500", "Zk81mQ2pW0vLrt5Wq9Kd"),
        ("ERROR 401 (Authorization: Bearer abcdefghijklmnopqrst)", "abcdefghijklmnopqrst"),
        ('{"level":"error","card":4539578763621486}', "4539578763621486"),
        ("ERROR GET /cart 500 JSESSIONID=A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6", "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6"),
        ("ERROR login password=password user=bob", "password=password"),
        ("ERROR honeycomb export failed for hcxak_Zq7Lm2Xv9Rt4Yb8Nc1Kd6Wf", "hcxak_Zq7Lm2Xv9Rt4Yb8Nc1Kd6Wf"),
    ],
    ids=["json-in-json", "json-in-json-in-json", "logfmt-in-json-digits-first", "digits-then-punctuation",
         "python-repr-with-spaces", "escaped-quote-in-value", "azure-sas-sig", "azure-shared-access-key",
         "mailgun-new-shape", "cli-flag", "dsn-without-user", "dsn-password-with-at-and-colon", "go-mysql-dsn",
         "aws-secret-in-a-sentence", "azure-function-key", "bearer-letters-only", "card-in-json-number",
         "session-cookie", "the-word-password-as-a-password", "honeycomb-prefix-no-hint-named"],
)  # fmt: skip
def test_secret_shapes_that_used_to_leak(line: str, secret: str) -> None:
    out = Redactor().redact(line)
    assert secret not in out and "[REDACTED:" in out


@pytest.mark.parametrize(
    "line",
    [
        "ERROR secretName=orders-db-credentials not found",
        '{"level":"error","msg":"missing","secret_name":"payments-api-token"}',
        "level=error tokenType=Bearer token_type=refresh_token",
        "level=error secretKeyRef.name=orders-db key_id=kms-7 password_length=12 token_expires_at=2026-12-01T00:00:00Z",
        "ERROR AccessDenied for arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/db-AbC123",
        "\tat com.acme.auth.TokenCache.get(/app/src/token-cache.js:1234:56)",
        "level=error cache_key=orders:42:v2 idempotencyKey=3f0c2a9e-4b1d-4c6e-9a7f-2d8b5e1c0a44",
        "level=error password=required token=expired secret=missing",
        '{"level":"error","dd.trace_id":"4539578763621486","spanId":"5804311259234127801"}',
        "ERROR passwordless login expired; tokens=4096 max_tokens=8192",
        "level=error session_id=3f0c2a9e-4b1d-4c6e-9a7f-2d8b5e1c0a44 session_count=12 sessionTimeout=30m",
    ],
)
def test_names_and_facts_about_secrets_are_kept(line: str) -> None:
    assert Redactor().redact(line) == line


@pytest.mark.parametrize(
    "unit",
    ["a", "a.", "a-", "password=", "token=a", '"', "\\", "1", "sk-", "eyJ.", "Ab0+", "a@", "a://b:c", "secretkey", "a:",
     "-----BEGIN PRIVATE KEY-----", '\\"password\\":', "Bearer ", "authorization: ", "x-api-key: ", "--password "],
)  # fmt: skip
def test_hostile_megabyte_lines_stay_linear(unit: str) -> None:
    small, large = costs(Redactor().redact, unit)
    assert large < MAX_LARGE_S, f"{unit!r}: {large:.1f}s for 1 MB"
    assert large < linear_bound(small), f"{unit!r}: 64 KB {small:.3f}s, 1 MB {large:.3f}s"


STACKS = [
    *sorted((TEST_FIXTURES / "stacktraces").rglob("*.txt")),
    *sorted((TEST_FIXTURES / "realworld").rglob("trace.txt")),
]


@pytest.mark.parametrize("path", STACKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_redaction_keeps_every_frame_parseable(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    raw, redacted = parse_stacktrace(text), parse_stacktrace(Redactor().redact(text))
    assert (raw is None) == (redacted is None)
    if raw is not None and redacted is not None:
        frames = [(f.file, f.line, f.function, f.module) for e in raw.exceptions for f in e.frames]
        assert [(f.file, f.line, f.function, f.module) for e in redacted.exceptions for f in e.frames] == frames


def _entry(line: str, **metadata: str) -> LogEntry:
    return LogEntry(ts_ns=1, line=line, labels={"service_name": "orders"}, metadata=metadata)


def test_the_event_holds_no_secret_and_its_stack_still_parses() -> None:
    token = "ghp_" + "Qx7Lm2Vp9Rt4Wz8Ks1Nd6Bf3Hj5Gc0Ya2Uei"
    line = json.dumps({
        "level": "error", "message": f"auth failed for ghp token {token}",
        "stack_trace": f"java.lang.IllegalStateException: rejected {token}\n"
                       "\tat com.acme.auth.Client.call(Client.java:88)\n\tat com.acme.Main.run(Main.java:12)",
        "request": {"headers": {"Authorization": "Bearer Zx81Qm2Pw0vLrt5Wq9Kd"}, "password": "hunter2!"},
    })  # fmt: skip
    event = parse_entry(_entry(line, exception_message=f"token {token}"), "prod", SMAP)
    assert event is not None and event.stack is not None
    dumped = event.model_dump_json()
    assert token not in dumped and "Zx81Qm2Pw0vLrt5Wq9Kd" not in dumped and "hunter2!" not in dumped
    assert [f.function for f in event.stack.primary.frames] == ["call", "run"]
    assert event.stack.primary.message == "rejected [REDACTED:github-token]"
    assert json.loads(event.line)["request"]["password"] == "[REDACTED:assignment]"


def test_a_short_field_value_is_redacted_however_often_it_repeats() -> None:
    """Short values that hold no secret are remembered as clean; one that holds a secret never is, so it is
    redacted on every line, beside clean values seen before and after it."""
    redactor = Redactor()
    token = "ghp_" + "Qx7Lm2Vp9Rt4Wz8Ks1Nd6Bf3Hj5Gc0Ya2Uei"
    fields = {"level": "ERROR", "logger": "com.acme.Auth", "note": f"token {token}", "thread": "main"}
    for _ in range(3):
        assert redactor.redact_tree(fields) == {"level": "ERROR", "logger": "com.acme.Auth",
                                                "note": "token [REDACTED:github-token]", "thread": "main"}  # fmt: skip
        assert redactor.redact_tree([f"token {token}", "ERROR"]) == ["token [REDACTED:github-token]", "ERROR"]


def test_a_secret_hidden_by_json_escaping_is_redacted_in_the_stored_line() -> None:
    line = '{"level":"error","msg":"connect to postgres:\\/\\/app:Kx81mQ2pW0vLrt@db\\/orders failed"}'
    event = parse_entry(_entry(line), "prod", SMAP)
    assert event is not None
    assert "Kx81mQ2pW0vLrt" not in event.model_dump_json()


def test_custom_patterns_from_the_service_map_apply_at_the_door() -> None:
    smap = SMAP.model_copy(update={"redaction": SMAP.redaction.model_copy(update={"patterns": (r"ACME-\d{6}",)})})
    event = parse_entry(_entry("ERROR ticket ACME-123456 failed"), "prod", smap)
    assert event is not None and "ACME-123456" not in event.model_dump_json()


def test_span_text_is_redacted_before_it_reaches_a_finding_or_an_incident() -> None:
    token, password = "ghp_" + "Qx7Lm2Vp9Rt4Wz8Ks1Nd6Bf3Hj5Gc0Ya2Uei", "Kx81mQ2pW0vLrt"
    stack = f"java.lang.IllegalStateException: rejected {token}\n\tat com.acme.auth.Client.call(Client.java:88)"
    attrs = {"exception.type": "java.lang.IllegalStateException", "exception.message": f"rejected {token}",
             "exception.stacktrace": stack}  # fmt: skip
    span = Span(
        span_id="00f067aa0ba902b7", service="orders", name=f"GET /export?access_token={password}",
        start_ns=1, status_code="ERROR", status_message=f"redis://:{password}@cache refused",
        events=(SpanEvent(name="exception", attributes=attrs),),
    )  # fmt: skip
    trace = Trace(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", status="found", spans=(span,), total_spans=1)
    summary, incident = summarise(trace), incident_from_trace(trace, "prod", SMAP)
    assert incident is not None and incident.stack is not None
    dumped = summary.model_dump_json() + incident.model_dump_json() + (exception_stacktrace(trace, span.span_id) or "")
    assert token not in dumped and password not in dumped
    assert [f.function for f in incident.stack.primary.frames] == ["call"]


def test_a_token_cut_by_the_line_cap_is_redacted_whole() -> None:
    token = "ghp_" + "Qx7Lm2Vp9Rt4Wz8Ks1Nd6Bf3Hj5Gc0Ya2Uei"
    line = "ERROR " + "x" * 100 + f" {token} tail"
    event = parse_entry(_entry(line), "prod", SMAP, max_line_bytes=len(line) - 30)  # the cap falls inside the token
    assert event is not None and token[:16] not in event.line and token[4:16] not in event.model_dump_json()


def test_a_cnpm_install_path_is_no_email_address() -> None:
    """cnpm installs a package as `node_modules/_<name>@<version>@<name>/`: `2.0.2@socket.io` there follows an
    `@`, so it is a path segment's tail, while an address in the same line is still redacted."""
    path = "/root/projects/agent-server/node_modules/_socket.io@2.0.2@socket.io/lib/namespace.js:103:11"
    line = f"at Namespace.use ({path}) reported by maria@example.com"
    redacted = Redactor().redact(line)
    assert path in redacted and "maria@example.com" not in redacted
