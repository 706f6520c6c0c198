"""Parsing and mapping rules added after the third held-out set was read (issue 11): the two cases where
the naive "innermost frame that maps to a repository file" beat the engine, and a shipping shape of a
third. Each rule is checked on the real lines of the corpus case that showed it
(`tests/fixtures/realworld/<eco>/<case>/trace.txt`, quoted here so the test does not move when the
corpus does) and on a variant it must leave alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from error_autopilot.incidents.stacktrace import parse_stacktrace, strip_line_prefix
from error_autopilot.investigation import blame
from error_autopilot.investigation.stackmap import Candidate, rank
from tests.support.corpus import build_repo

# go/wneessen-arrgo-46: a panic read through a pager that chops long lines and marks the cut with `>`
ARRGO = """\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x50 pc=0x7cd96f]
goroutine 3429 [running]:
github.com/wneessen/arrgo/bot.(*Bot).SlashCmdSoTBalance(0xc00012c0c0, 0xc0002e25a0?, 0xc000>
/builddir/bot/sc_handler_sot_userstats.go:112 +0x4f
github.com/wneessen/arrgo/bot.(*Bot).SlashCommandHandler(0xc00012c0c0, 0x0?, 0xc000012150)
/builddir/bot/slashcmd.go:400 +0x1395
github.com/bwmarrin/discordgo.interactionCreateEventHandler.Handle(0x0?, 0x0?, {0x845b40?, >
/go/pkg/mod/github.com/bwmarrin/discordgo@v0.27.0/eventhandlers.go:693 +0x38
created by github.com/bwmarrin/discordgo.(*Session).handle
/go/pkg/mod/github.com/bwmarrin/discordgo@v0.27.0/event.go:171 +0x16a
"""
ARRGO_PACKAGE = ("github.com/wneessen/arrgo",)
ARRGO_FILES = ["bot/bot.go", "bot/sc_handler_sot_userstats.go", "bot/slashcmd.go", "main.go"]


def test_a_go_call_line_cut_by_the_pager_still_names_its_function() -> None:
    trace = parse_stacktrace(ARRGO, packages=ARRGO_PACKAGE)
    assert trace is not None and trace.language == "go"
    frames = trace.primary.frames
    assert [(f.module, f.function) for f in frames] == [
        ("github.com/wneessen/arrgo/bot", "(*Bot).SlashCmdSoTBalance"),
        ("github.com/wneessen/arrgo/bot", "(*Bot).SlashCommandHandler"),
        ("github.com/bwmarrin/discordgo", "interactionCreateEventHandler.Handle"),
    ]
    assert frames[0].in_app and not frames[2].in_app
    first = rank(trace, ARRGO_FILES, packages=ARRGO_PACKAGE).candidates[0]
    assert (first.path, first.function) == ("bot/sc_handler_sot_userstats.go", "SlashCmdSoTBalance")
    assert "innermost own frame" in first.reason and "configured package" in first.reason


def test_a_call_line_cut_without_the_pagers_mark_names_no_function() -> None:
    """Only the pager's `>` says where a cut was; a line that merely stops is no call line."""
    trace = parse_stacktrace(ARRGO.replace("0xc000>\n", "0xc000\n"), packages=ARRGO_PACKAGE)
    assert trace is not None
    assert trace.primary.frames[0].module is None


# go/usememos-memos-3054: every line indented by one space, file lines by eight, all under /backend-build/
MEMOS = """\
 panic: runtime error: invalid memory address or nil pointer dereference
 [signal SIGSEGV: segmentation violation code=0x1 addr=0x10 pc=0x9c3b34]

 goroutine 68 [running]:
 github.com/usememos/memos/server/integration.(*TelegramHandler).CallbackQueryHandle(0x400040ebf8, {0x1433f80})
        /backend-build/server/integration/telegram.go:156 +0x2e4
 github.com/usememos/memos/plugin/telegram.(*Bot).Start(0x400003b980, {0x1433f80, 0x400009d9a0})
        /backend-build/plugin/telegram/bot.go:52 +0x488
 created by github.com/usememos/memos/server.(*Server).Start in goroutine 1
        /backend-build/server/server.go:96 +0x134
"""


def test_a_shippers_prefix_is_not_extended_into_the_frames_deployment_folder() -> None:
    shipped = "\n".join("3|app  | " + line for line in MEMOS.splitlines())
    lines = strip_line_prefix(shipped.splitlines())
    assert lines[5] == "        /backend-build/server/integration/telegram.go:156 +0x2e4"
    plain, prefixed = parse_stacktrace(MEMOS), parse_stacktrace(shipped)
    assert plain is not None and prefixed is not None
    assert prefixed.primary.type == plain.primary.type == "panic"
    frames = [[(f.function, f.file) for f in t.primary.frames] for t in (plain, prefixed)]
    assert frames[0] == frames[1]


def test_a_prefix_ending_in_a_separator_of_its_own_is_still_stripped() -> None:
    """A shipper's prefix that ends in `|` or `]` is still a prefix; only a shared path folder is not."""
    shipped = "\n".join("web_1  | " + line for line in MEMOS.splitlines())
    assert strip_line_prefix(shipped.splitlines())[0].startswith(" panic: runtime error: invalid memory address")


# node/songzh96-homebridge-crestron-16: a plugin published under another name, installed globally
CRESTRON = """\
[2/13/2022, 3:38:12 PM] [CresKit] TypeError: Cannot read properties of undefined (reading 'log')
    at closeGetStatus (/usr/lib/node_modules/homebridge-creskit2/index.js:25:10)
    at CresKitAccessory.<anonymous> (/usr/lib/node_modules/homebridge-creskit2/index.js:147:17)
    at Object.onceWrapper (node:events:640:26)
    at EventEmitter.emit (node:events:520:28)
    at CresKit.<anonymous> (/usr/lib/node_modules/homebridge-creskit2/index.js:89:34)
    at /usr/lib/node_modules/homebridge-creskit2/node_modules/async/dist/async.js:3110:16
    at eachOfArrayLike (/usr/lib/node_modules/homebridge-creskit2/node_modules/async/dist/async.js:1069:9)
"""
CRESTRON_FILES = ["README.md", "config.schema.json", "index.js", "package.json"]


def test_the_service_installed_as_a_package_is_its_own_repository() -> None:
    trace = parse_stacktrace(CRESTRON)
    assert trace is not None and not any(f.in_app for f in trace.primary.frames)
    ranking = rank(trace, CRESTRON_FILES)
    first = ranking.candidates[0]
    assert (first.path, first.function, first.frame.line) == ("index.js", "closeGetStatus", 25)
    assert "installed package's own path index.js" in first.reason
    assert "only the file name matches" not in first.reason
    assert all("async.js" not in (c.frame.file or "") for c in ranking.candidates)


def test_a_library_whose_path_below_its_root_is_not_the_repositorys_stays_a_library() -> None:
    """`node_modules/express/lib/router/index.js` shares only its file name with the repository's `index.js`;
    a package nested in the repository's own `node_modules/` is a dependency, whatever its path."""
    text = CRESTRON.replace("/usr/lib/node_modules/homebridge-creskit2/index.js",
                            "/srv/app/node_modules/express/lib/router/index.js")  # fmt: skip
    trace = parse_stacktrace(text)
    assert trace is not None
    assert rank(trace, CRESTRON_FILES).candidates == ()
    vendored = ["index.js", "node_modules/async/dist/async.js"]
    trace = parse_stacktrace(CRESTRON.replace("homebridge-creskit2/index.js", "express/lib/router/index.js"))
    assert trace is not None
    assert rank(trace, vendored).candidates == ()


# dotnet/microsoft-garnet-537: a console logger in single-line mode put the exception on its log line
GARNET = (
    "01::53::04 fail: StoreWrapper[0] CommitTask exception received, AOF tail address = 376; AOF committed until "
    "address = 376;  System.NullReferenceException: Object reference not set to an instance of an object.    at "
    "Garnet.server.StoreWrapper.CommitTask(Int32 commitFrequencyMs, ILogger logger, CancellationToken token) in "
    "/src/libs/server/StoreWrapper.cs:line 320"
)


def test_a_dotnet_exception_flattened_onto_its_log_line_has_its_frames() -> None:
    trace = parse_stacktrace(GARNET, packages=("Garnet",))
    assert trace is not None and trace.language == "dotnet"
    assert trace.primary.type == "System.NullReferenceException"
    assert [(f.module, f.function, f.file, f.line) for f in trace.primary.frames] == [
        ("Garnet.server.StoreWrapper", "CommitTask", "/src/libs/server/StoreWrapper.cs", 320)
    ]
    first = rank(trace, ["libs/server/StoreWrapper.cs", "libs/server/Garnet.cs"], packages=("Garnet",)).candidates[0]
    assert (first.path, first.function) == ("libs/server/StoreWrapper.cs", "CommitTask")


def test_words_after_four_spaces_in_a_log_line_are_no_frames() -> None:
    """Only a call (`at A.B(`) after the run of spaces is a flattened frame; `at noon` in a message is not."""
    assert parse_stacktrace("fail: Scheduler[0] Exception planned    at noon (maintenance window)") is None


# dotnet/natemcmaster-lettuceencrypt-19: a log stream that puts a blank line after every line
LETTUCE = "\n \n".join([  # the blank lines hold one space, as pasted
    "A 2019-09-25T21:02:02.537223113Z fail: Microsoft.AspNetCore.Server.Kestrel[0]",
    "A 2019-09-25T21:02:02.537287441Z       Unhandled exception while processing 0HLQ1VD105N46.",
    "A 2019-09-25T21:02:02.537293658Z System.ArgumentNullException: Value cannot be null. (Parameter 'key')",
    "A 2019-09-25T21:02:02.538987949Z    at System.Collections.Concurrent.ConcurrentDictionary`2."
    "ThrowKeyNullException()",
    "A 2019-09-25T21:02:02.539008407Z    at System.Collections.Concurrent.ConcurrentDictionary`2.TryGetValue(TKey key, "
    "TValue& value)",
    "A 2019-09-25T21:02:02.539013518Z    at McMaster.AspNetCore.LetsEncrypt.Internal.CertificateSelector.Select("
    "ConnectionContext features, String domainName)",
])  # fmt: skip


def test_a_blank_line_between_a_dotnet_header_and_its_first_frame_is_spacing() -> None:
    trace = parse_stacktrace(LETTUCE, packages=("McMaster.AspNetCore.LetsEncrypt",))
    assert trace is not None and trace.primary.type == "System.ArgumentNullException"
    assert [f.function for f in trace.primary.frames] == ["ThrowKeyNullException", "TryGetValue", "Select"]
    first = rank(trace, ["src/LetsEncrypt/Internal/CertificateSelector.cs"],
                 packages=("McMaster.AspNetCore.LetsEncrypt",)).candidates[0]  # fmt: skip
    assert (first.path, first.function) == ("src/LetsEncrypt/Internal/CertificateSelector.cs", "Select")


def test_a_blank_line_before_text_that_is_no_frame_still_ends_the_dotnet_header() -> None:
    text = "System.ArgumentNullException: Value cannot be null.\n\nthe next log line\n   at A.B.C() in /x/C.cs:line 3\n"
    trace = parse_stacktrace(text)
    assert trace is not None
    assert all(e.type != "System.ArgumentNullException" or not e.frames for e in trace.exceptions)


# go/nginx-proxy-docker-gen-2: a panic from an older build; the function has since moved to another file
DOCKER_GEN = """\
panic: runtime error: slice bounds out of range

goroutine 1 [running]:
runtime.panic(0x6a9cc0, 0xa270aa)
    /usr/lib/go/src/pkg/runtime/panic.c:266 +0xb6
main.splitDockerImage(0xc21006e3c0, 0x20, 0x40, 0xc2100489a0, 0x0, ...)
    GOPATH/src/github.com/jwilder/docker-gen/docker-gen.go:80 +0x251
main.getContainers(0xc2100524a0, 0xa3512c, 0x7f358b492d20, 0x7, 0x7fff53dd87de, ...)
    GOPATH/src/github.com/jwilder/docker-gen/docker-gen.go:203 +0x3ca
main.generateFromContainers(0xc2100524a0)
    GOPATH/src/github.com/jwilder/docker-gen/docker-gen.go:233 +0x35
"""
DOCKER_GEN_FILES = ["docker-gen.go", "docker_client.go", "template.go", "cmd/tool/docker_client.go"]


def _ranked(tmp_path: Path, symbols: dict[str, list[dict[str, Any]]]) -> tuple[Candidate, ...]:
    repo = tmp_path / "repo.git"
    head = build_repo(DOCKER_GEN_FILES, repo, symbols)
    trace = parse_stacktrace(DOCKER_GEN)
    assert trace is not None
    return rank(trace, DOCKER_GEN_FILES, grep=lambda pattern: blame.grep(repo, head, pattern)).candidates


def test_a_go_function_moved_to_another_file_of_its_package_is_found_there(tmp_path: Path) -> None:
    symbols = {
        "docker-gen.go": [{"line": 230, "col": 0, "kind": "function", "name": "generateFromContainers", "end": 250}],
        "docker_client.go": [{"line": 70, "col": 0, "kind": "function", "name": "splitDockerImage", "end": 95},
                             {"line": 190, "col": 0, "kind": "function", "name": "getContainers", "end": 220}],
        "cmd/tool/docker_client.go": [{"line": 9, "col": 0, "kind": "function", "name": "splitDockerImage"}],
    }  # fmt: skip
    first, *rest = _ranked(tmp_path, symbols)
    assert (first.path, first.function) == ("docker_client.go", "splitDockerImage")
    assert "no longer in docker-gen.go: the same package defines it in docker_client.go" in first.reason
    assert ("docker-gen.go", "generateFromContainers") in [(c.path, c.function) for c in rest]


def test_a_go_function_still_in_the_file_its_frame_names_stays_there(tmp_path: Path) -> None:
    """A second definition elsewhere (another package's folder) says nothing about this frame's file."""
    symbols = {
        "docker-gen.go": [{"line": 75, "col": 0, "kind": "function", "name": "splitDockerImage", "end": 95}],
        "cmd/tool/docker_client.go": [{"line": 9, "col": 0, "kind": "function", "name": "getContainers"}],
    }
    first, second, *_ = _ranked(tmp_path, symbols)
    assert (first.path, first.function) == ("docker-gen.go", "splitDockerImage")
    assert (second.path, second.function) == ("docker-gen.go", "getContainers")


def test_the_double_spaced_log_behind_a_shippers_prefix_reads_the_same() -> None:
    """Behind pm2's prefix the blank lines hold only `3|app  | `: they are blank lines, not text ending the
    header, so the frames are the same as without the prefix."""
    shipped = "\n".join("3|app  | " + line for line in LETTUCE.splitlines())
    plain, prefixed = parse_stacktrace(LETTUCE), parse_stacktrace(shipped)
    assert plain is not None and prefixed is not None
    assert [f.function for f in prefixed.primary.frames] == [f.function for f in plain.primary.frames] != []


def test_a_flattened_dotnet_exception_in_a_json_field_has_its_frames() -> None:
    shipped = json.dumps({"level": "error", "msg": "request failed", "details": GARNET})
    trace = parse_stacktrace(shipped, packages=("Garnet",))
    assert trace is not None and trace.primary.type == "System.NullReferenceException"
    assert [(f.function, f.line) for f in trace.primary.frames] == [("CommitTask", 320)]
