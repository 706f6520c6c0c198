"""Grafana alert texts and webhook bodies → AlertRequests, on Grafana's real outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from error_autopilot.actions_io import read_dispatch
from error_autopilot.bridge.commands import autopilot_payload, parse_command
from error_autopilot.bridge.grafana import dispatch_payload, parse_alert_text, parse_webhook, since_window
from error_autopilot.domain.dispatch import DispatchPayload
from tests.conftest import REPO_ROOT, SHARED_FIXTURES, TEST_FIXTURES

GRAFANA = SHARED_FIXTURES / "grafana"
SEED = "🚨 legacy-service - ERROR LOG!!! is Firing\n\nDescription: Pls Check it ASAP\n"


def test_default_message_gives_every_alert_with_its_status() -> None:
    alerts = parse_alert_text((GRAFANA / "default-message-firing-resolved.txt").read_text(), default_environment="prod")
    assert [a.status for a in alerts] == ["firing"] * 3 + ["resolved"] * 3
    assert [a.source_url for a in alerts][:2] == ["http://localhost/alert1?orgId=1", "http://localhost/alert2"]
    assert {a.alertname for a in alerts} == {"alert1"}
    assert all(a.environment == "prod" for a in alerts)
    assert "lbl1 = val1" in alerts[0].text and "lbl1 = val2" not in alerts[0].text


@pytest.mark.parametrize(
    ("name", "alertnames", "source"),
    [
        ("telegram-text-single-alert.txt", ["alert1"], None),  # "Source: a URL" is not a URL
        ("telegram-text-two-alerts.txt", ["alert1", "alert2"], None),
    ],
)
def test_telegram_texts_from_grafanas_own_tests(name: str, alertnames: list[str], source: str | None) -> None:
    alerts = parse_alert_text((GRAFANA / name).read_text(), default_environment="dev")
    assert [a.alertname for a in alerts] == alertnames
    assert all(a.status == "firing" and a.source_url == source for a in alerts)


def test_labels_name_the_service_environment_and_trace() -> None:
    text = (
        "**Firing**\n\nValue: A=3\nLabels:\n - alertname = ErrorLogs\n - deployment_environment = staging\n"
        " - service_name = user-service\n - trace_id = 4BF92F3577B34DA6A3CE929D0E0E4736\nAnnotations:\n"
        " - summary = errors\nSource: https://grafana.example.com/alerting/grafana/abc/view\n"
    )
    [alert] = parse_alert_text(text, default_environment="prod")
    assert (alert.environment, alert.service, alert.trace_id) == (
        "staging",
        "user-service",
        "4bf92f3577b34da6a3ce929d0e0e4736",
    )
    assert alert.source_url == "https://grafana.example.com/alerting/grafana/abc/view"


def test_the_seeds_custom_template() -> None:
    [alert] = parse_alert_text(SEED, default_environment="prod")
    assert (alert.service, alert.alertname, alert.status, alert.environment) == (
        "legacy-service",
        "ERROR LOG!!!",
        "firing",
        "prod",
    )
    [resolved] = parse_alert_text(SEED.replace("Firing", "Resolved"), default_environment="prod")
    assert resolved.status == "resolved"


def test_a_message_cut_at_4096_runes_drops_the_half_line() -> None:
    text = "**Firing**\n\nLabels:\n - alertname = A\n - service_name = checkout\n - zone = us-ea…"
    [alert] = parse_alert_text(text, default_environment="prod")
    assert alert.service == "checkout"
    cut_in_value = "**Firing**\n\nLabels:\n - alertname = A\n - service_name = check…"
    [alert] = parse_alert_text(cut_in_value, default_environment="prod")
    assert alert.service is None  # a truncated name would start a run for a service that does not exist


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello team",
        "**Firing**\n\nno labels here",
        "<script>alert(1)</script>",
        "x" * 10_000,
        "**Firing**\n\nLabels:\n - service_name = $(rm -rf /)\n - alertname = a",
    ],
)
def test_hostile_or_foreign_text_never_gives_a_bad_name(text: str) -> None:
    for alert in parse_alert_text(text, default_environment="prod"):
        assert alert.service is None
        DispatchPayload.model_validate(dispatch_payload(alert, now=datetime.now(UTC)).model_dump())


def test_webhook_payload_from_grafanas_docs() -> None:
    alerts = parse_webhook(json.loads((GRAFANA / "webhook-payload-docs.json").read_text()), default_environment="prod")
    assert [a.alertname for a in alerts] == ["High memory usage", "High CPU usage"]
    assert alerts[0].since == datetime.fromisoformat("2021-10-12T09:51:03.157076+02:00")
    assert alerts[0].source_url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert all(a.status == "firing" and a.environment == "prod" for a in alerts)
    assert parse_webhook({"alerts": "nope"}, default_environment="prod") == []
    assert parse_webhook([1, 2], default_environment="prod") == []


def test_since_window_covers_the_alert_and_fits_the_payload_pattern() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert since_window(datetime(2026, 1, 2, 11, 30, tzinfo=UTC), now) == "41m"
    assert since_window(datetime(2025, 1, 1, tzinfo=UTC), now) == "168h"
    assert since_window(None, now) is None
    DispatchPayload(since=since_window(datetime(2025, 1, 1, tzinfo=UTC), now))


def test_dispatch_payload_redacts_the_evidence() -> None:
    [alert] = parse_alert_text(SEED + "Token: ghp_" + "a" * 36 + "\n", default_environment="prod")
    payload = dispatch_payload(alert, now=datetime.now(UTC))
    assert payload.text is not None and "ghp_" not in payload.text and "[REDACTED" in payload.text


def test_grafana_contact_point_template_output_is_accepted_by_the_action(tmp_path: Path) -> None:
    rendered = json.loads((TEST_FIXTURES / "bridge" / "grafana-dispatch-rendered.json").read_text())
    assert rendered["event_type"] == "error-alert" and len(rendered["event_type"]) <= 100
    assert 0 < len(rendered["client_payload"]) <= 10
    assert len(json.dumps(rendered["client_payload"])) <= 65_535
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": rendered["event_type"], "client_payload": rendered["client_payload"]}))
    payload = read_dispatch("repository_dispatch", event)
    assert payload is not None
    assert (payload.environment, payload.service) == ("prod", "user-service")


def test_contact_point_json_carries_the_same_template() -> None:
    contact = json.loads((REPO_ROOT / "deploy" / "grafana-contact-point.json").read_text())
    settings = contact["settings"]
    assert settings["url"].endswith("/dispatches") and contact["type"] == "webhook"
    assert '"event_type" "error-alert"' in settings["payload"]["template"]
    assert contact["disableResolveMessage"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/autopilot prod user-service 2h", ("autopilot", ("prod", "user-service", "2h"))),
        ("/autopilot@error_autopilot_bot prod", ("autopilot", ("prod",))),
        ("/status", ("status", ())),
        ("/help@other_bot", None),
        ("not a command", None),
    ],
)
def test_commands(text: str, expected: tuple[str, tuple[str, ...]] | None) -> None:
    command = parse_command(text, "error_autopilot_bot")
    assert (None if command is None else (command.name, command.args)) == expected


def test_autopilot_arguments_are_validated() -> None:
    ok = autopilot_payload(("prod", "user-service", "2h", "4bf92f3577b34da6"), ("prod", "dev"))
    assert isinstance(ok, DispatchPayload)
    assert (ok.environment, ok.service, ok.since, ok.trace_id) == (
        "prod",
        "user-service",
        "2h",
        "0" * 16 + "4bf92f3577b34da6",
    )
    assert "unknown environment" in str(autopilot_payload(("qa",), ("prod",)))
    assert "usage" in str(autopilot_payload((), ()))
    assert "invalid" in str(autopilot_payload(("prod", "$(id)"), ()))
