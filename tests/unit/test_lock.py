"""requirements.lock (what the action installs) stays in step with pyproject.toml: `make lock` after a change."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s;\\]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, tuple[str, int]]:
    """name → (pinned version, number of hashes); an entry runs from its pin to the next unindented line."""
    text = (REPO_ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=\S)", text)
    pins = [(m, entry) for entry in entries if (m := _PIN.match(entry))]
    return {_norm(m["name"]): (m["version"], entry.count("--hash=sha256:")) for m, entry in pins}


def test_every_dependency_is_locked_at_a_version_it_allows() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    assert len(locked) >= len(project["dependencies"]) >= 5
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = _norm(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement.specifier}: run `make lock`"
        )


def test_every_locked_package_carries_hashes() -> None:
    unhashed = [name for name, (_, hashes) in _locked().items() if hashes == 0]
    assert _locked() and unhashed == []
