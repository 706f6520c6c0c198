"""git run on the clone cache so that nothing planted in a clone runs and no credential is written down.

The cache outlives the job, and the investigate job runs code it does not trust (a model-written
patch under the service's tests): nothing planted in a cached clone may run in a later job, the
publish job with its write token included. So git runs here with hooks and fsmonitor switched off
from the command line (which outranks the clone's own configuration); `clones` discards a clone whose
.git/config holds anything beyond what `git clone` writes.

Credentials never reach argv, a remote URL or .git/config, and are never logged: the token goes only
to the GitHub host, passed per command through `GIT_CONFIG_*` variables scoped to that host's URL;
a user and password written into an https URL are taken out of it and passed the same way.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import git

_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # a refused clone must fail, never wait for a password
# Configuration that makes git run a program, overridden for every command on the cache (see above).
_NEVER_RUN = (("core.hooksPath", os.devnull), ("core.fsmonitor", "false"))
# git's words for "the host is not there" (as opposed to "no such repository" or "not allowed")
_HOST_DOWN = re.compile(
    r"(?i)could not resolve host|connection refused|failed to connect|couldn't connect|timed out|"
    r"connection reset|returned error: 5\d\d|ssl_connect|gnutls_handshake|could not read from remote"
)


@functools.cache
def git_version() -> tuple[int, ...]:
    """The installed git's version, e.g. (2, 39, 5); (0,) when it cannot be told."""
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(n) for n in found.groups() if n is not None) if found else (0,)


def host_down(text: str) -> bool:
    """True when git's error output says the host could not be reached (not "no such repository")."""
    return _HOST_DOWN.search(text) is not None


def without_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without a user and password, an Authorization header carrying them or None).

    Only http(s) URLs carry a secret there; the user of an ssh URL (`git@host`) is not one."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or (parts.username is None and parts.password is None):
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    user = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return urlunsplit(parts._replace(netloc=netloc)), "Authorization: Basic " + base64.b64encode(user.encode()).decode()


class SafeGit:
    """Runs git for the cache: hooks and fsmonitor off, never a prompt, and the credentials for a URL
    only in the environment of the command that needs them."""

    def __init__(self, *, github_url: str, token: str | None) -> None:
        self._github_url = github_url.rstrip("/")
        self._token = token

    def __call__(self, args: list[str], url: str, cwd: Path | None = None) -> str:
        """Run git with `args` (in `cwd`) for the repository at `url`; its standard output."""
        out = (git.Git(cwd) if cwd else git.Git()).execute(["git", *args], env=self.env(url))
        return str(out)

    def env(self, url: str) -> dict[str, str]:
        """The token as an extra header for URLs under the GitHub host only (git's `http.<url>.*`), and
        the credentials taken out of `url` as one for that URL."""
        headers: list[tuple[str, str]] = list(_NEVER_RUN)
        if self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            headers.append((f"http.{self._github_url}/.extraHeader", f"Authorization: Basic {basic}"))
        clean, header = without_credentials(url)
        if header is not None:
            headers.append((f"http.{clean}.extraHeader", header))
        env = dict(_NO_PROMPT)
        count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # keep any configuration already passed this way
        for key, value in headers:
            env[f"GIT_CONFIG_KEY_{count}"], env[f"GIT_CONFIG_VALUE_{count}"] = key, value
            count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        return env

    def redact(self, text: str) -> str:
        """`text` without the token or a user:password written into a URL."""
        text = text.replace(self._token, "***") if self._token else text
        return re.sub(r"(https?://)[^/@\s]*@", r"\1***@", text)
