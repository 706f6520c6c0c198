"""service-map.json validation: one readable message naming the field, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from error_autopilot.cli import main
from error_autopilot.config.reference import config_reference
from error_autopilot.config.service_map import load_service_map, parse_service_map
from error_autopilot.domain.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _minimal() -> dict[str, object]:
    return {
        "environments": {"dev": {"loki": {"url": "http://loki:3100", "selector": '{env="dev"}'}}},
        "services": {"order-service": {"repo": "acme/order-service"}},
    }


def test_missing_repo_names_the_field() -> None:
    data = _minimal()
    data["services"] = {"order-service": {"branch": "main"}}
    with pytest.raises(ConfigError) as info:
        parse_service_map(data)
    assert "services.order-service.repo: field required" in str(info.value)


def test_unknown_field_is_refused() -> None:
    data = _minimal()
    data["environments"]["dev"]["loki"]["tokn"] = "x"  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        parse_service_map(data)
    assert "environments.dev.loki.tokn" in str(info.value)


def test_alias_clash_is_refused() -> None:
    data = _minimal()
    data["services"] = {
        "a": {"repo": "o/a", "aliases": ["shared"]},
        "b": {"repo": "o/b", "aliases": ["shared"]},
    }
    with pytest.raises(ConfigError, match="alias 'shared' is already used by a"):
        parse_service_map(data)


def test_secret_fields_take_variable_names_not_values() -> None:
    data = _minimal()
    data["environments"]["dev"]["loki"]["auth"] = {"bearer_env": "glc_abc123=="}  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"environments\.dev\.loki\.auth\.bearer_env"):
        parse_service_map(data)


def test_cli_check_exit_code_2_on_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "service-map.json"
    bad.write_text(json.dumps({"environments": {}, "services": {"x": {}}}))
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "services.x.repo: field required" in err


def test_cli_check_exit_code_2_on_invalid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "service-map.json"
    bad.write_text('{"environments": ')
    assert main(["check", "--config", str(bad)]) == 2
    assert "not valid JSON: line 1" in capsys.readouterr().err


def test_example_map_in_repo_is_valid() -> None:
    smap = load_service_map(REPO_ROOT / "service-map.json")
    assert smap.environments and smap.services
    assert smap.resolve_service(next(iter(smap.services))) is not None


def test_checked_in_schema_matches_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    generated = json.loads(capsys.readouterr().out)
    checked_in = json.loads((REPO_ROOT / "service-map.schema.json").read_text())
    assert generated == checked_in, "run `make schema` and commit service-map.schema.json"


def test_readme_configuration_reference_is_generated_from_the_models() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "#### `LokiConfig`" in config_reference()
    assert config_reference() in readme, "run `make schema` to regenerate the README's configuration reference"


def _check(tmp_path: Path, data: dict[str, object]) -> int:
    path = tmp_path / "service-map.json"
    path.write_text(json.dumps(data))
    return main(["check", "--config", str(path)])


def test_check_reports_every_bad_url_and_regex_in_one_pass(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = _minimal()
    env = {
        "loki": {"url": "not a url", "selector": '{env="dev"}', "line_filter": "(?i)(error|exception"},
        "tempo": {"url": "ftp://tempo:3200"},
        "grafana": {"url": "https://grafana.example.com:0"},
    }
    data["environments"] = {"dev": env, "prod": {"loki": {"url": "http://loki", "selector": "{a=\"b\"}",
                                                           "line_filter": "(?<=x)error"}}}  # fmt: skip
    data["github_url"] = "ghe.example.com"
    assert _check(tmp_path, data) == 2
    err = capfd.readouterr().err  # file-descriptor level: RE2's own C++ logging must stay silent too
    for field in ("environments.dev.loki.url", "environments.dev.loki.line_filter", "environments.dev.tempo.url",
                  "environments.dev.grafana.url", "environments.prod.loki.line_filter", "github_url"):  # fmt: skip
        assert f"{field}: " in err, field
    assert "'not a url' is not an http(s) URL" in err and "missing )" in err and "invalid perl operator" in err
    assert "re2.cc" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "url",
    [
        "http://loki:3100",
        "https://logs-prod-eu-west-0.grafana.net",
        "http://[::1]:3100",
        "https://grafana.example.com/api/datasources/proxy/uid/x",
    ],
)
def test_check_accepts_real_urls(url: str) -> None:
    data = _minimal()
    data["environments"]["dev"]["loki"]["url"] = url  # type: ignore[index]
    assert parse_service_map(data).environments["dev"].loki.url == url


def test_check_names_every_unset_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    data = _minimal()
    loki = {"url": "http://loki", "selector": '{env="dev"}', "auth": {"bearer_env": "LOKI_TOKEN_T"}}
    tempo = {"url": "http://tempo", "auth": {"username": "1", "password_env": "TEMPO_PW_T"}}
    data["environments"] = {"dev": {"loki": loki, "tempo": tempo}}
    monkeypatch.delenv("LOKI_TOKEN_T", raising=False)
    monkeypatch.delenv("TEMPO_PW_T", raising=False)
    assert _check(tmp_path, data) == 2
    err = capsys.readouterr().err
    assert "2 environment variable(s) it names are not set" in err
    assert "environments.dev.loki.auth.bearer_env: LOKI_TOKEN_T is not set" in err
    assert "environments.dev.tempo.auth.password_env: TEMPO_PW_T is not set" in err
    monkeypatch.setenv("LOKI_TOKEN_T", "x")
    monkeypatch.setenv("TEMPO_PW_T", "y")
    assert _check(tmp_path, data) == 0
