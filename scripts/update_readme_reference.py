"""Regenerate the configuration reference in README.md from the service-map models."""

from __future__ import annotations

import re
from pathlib import Path

from error_autopilot.config.reference import config_reference

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- config-reference:start[^>]*-->\n).*?(<!-- config-reference:end -->)", re.S)


def main() -> None:
    """Rewrite the block between the markers."""
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        raise SystemExit("README.md has no config-reference markers")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + config_reference() + m.group(2), text), encoding="utf-8")


if __name__ == "__main__":
    main()
