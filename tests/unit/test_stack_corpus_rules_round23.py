"""Rules added after the twenty-third held-out set was read (issue 11). Each rule is checked on the real lines of
the case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the test does
not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.investigator import _named
from error_autopilot.investigation.stackmap import Candidate, rank
from error_autopilot.ports import CheckedOut
from tests.support.stackrules import first_of, parsed

# dotnet/sammi-husky-sm4sh-tools-21: the console's lines as pasted, the message and the only frame's path wrapped
SM4SH = """\
Unhandled Exception: System.NullReferenceException: Object reference not set to an instance of an{SPACE}
object.
at DTLS.Types.Program.Main(String[] args) in C:\\Users\\ngaut\\Downloads\\Sm4sh-Tools-master\\
Sm4sh-Tools-master\\DTLS\\Program.cs:line 78
""".replace("{SPACE}", " ")
SM4SH_FILES = ["AnimCmd/Program.cs", "DTLS/Program.cs", "DTLS/Types/Logstream.cs", "Noah/Program.cs",
               "PACKManager/Program.cs"]  # fmt: skip

# go/hgsigner-gootstrap-2: a gccgo build's panic, methods printed under their mangled receiver, no `+0x` offsets
GOOTSTRAP = """\
julien@tarte:~/ownCloud/Codingᛤ $GOPATH/bin/gootstrap new usine
===> Creating package usine
panic: runtime error: invalid memory address or nil pointer dereference
[signal 0xb code=0x1 addr=0x18]

goroutine 1 [running]:
main.Parse.N18_main.GitIgnoreFile
\t/home/julien/go/src/github.com/hgsigner/gootstrap/templates.go:25
main.createFile.N13_main.gootFile
\t/home/julien/go/src/github.com/hgsigner/gootstrap/goot_file.go:69
main.createOrErrorOut
\t/home/julien/go/src/github.com/hgsigner/gootstrap/goot_file.go:106
main.performCreation.N13_main.gootFile
\t/home/julien/go/src/github.com/hgsigner/gootstrap/goot_file.go:85
main.Process.N14_main.filesList
\t/home/julien/go/src/github.com/hgsigner/gootstrap/goot_file.go:23
main.createPackage
\t/home/julien/go/src/github.com/hgsigner/gootstrap/gootstrap.go:155
"""
GOOTSTRAP_FILES = ["goot_file.go", "gootstrap.go", "gootstrap_test.go", "templates.go", "utils.go"]
GOOTSTRAP_PACKAGES = ["github.com/hgsigner/gootstrap"]

# jvm/micdoodle8-galacticraft-2622: a Forge mod's frames under the SRG names its reobfuscated jar ran with
GALACTICRAFT = """\
Description: Ticking block entity

java.lang.NullPointerException: Ticking block entity
\tat micdoodle8.mods.galacticraft.core.tile.TileEntityAdvanced.func_145845_h(TileEntityAdvanced.java:63)
\tat micdoodle8.mods.galacticraft.core.energy.tile.TileBaseUniversalElectrical.func_145845_h(\
TileBaseUniversalElectrical.java:338)
\tat micdoodle8.mods.galacticraft.core.energy.tile.TileBaseElectricBlock.func_145845_h(TileBaseElectricBlock.java:117)
"""
_GC = "src/main/java/micdoodle8/mods/galacticraft/core"
GALACTICRAFT_FILES = [f"{_GC}/tile/TileEntityAdvanced.java", f"{_GC}/energy/tile/TileBaseUniversalElectrical.java",
                      f"{_GC}/energy/tile/TileBaseElectricBlock.java"]  # fmt: skip
GALACTICRAFT_CONFIG = {"packages": ["micdoodle8.mods.galacticraft"], "source_roots": ["src/main/java"]}

# node/kintone-labs-kintone-cli-9: the globally installed package's compiled file; the repository commits `dist/`
_INSTALLED = "C:\\Users\\aibri\\AppData\\Roaming\\npm\\node_modules\\kintone-cli"
KINTONE = f"""\
{_INSTALLED}\\dist\\commands\\Dev\\devCommand.js:71
            config.uploadConfig.config.js = config.uploadConfig.config.js.map((item) => {{
                                                                       ^

TypeError: Cannot read property 'js' of undefined
    at Socket.ws.stderr.on ({_INSTALLED}\\dist\\commands\\Dev\\devCommand.js:71:72)
    at emitOne (events.js:116:13)
    at Socket.emit (events.js:211:7)
    at addChunk (_stream_readable.js:263:12)
"""
KINTONE_FILES = ["dist/commands/Dev/devCommand.js", "dist/commands/Dev/devCommand.js.map",
                 "src/commands/Dev/devCommand.ts", "src/commands/Dev/index.ts", "package.json"]  # fmt: skip


def _source(definitions: dict[int, str], crash_at: int, crash: str, length: int = 120) -> str:
    """A source file with `definitions` on their lines (1-based), the crashing statement at `crash_at`, and
    indented statements elsewhere; each definition's body closes just before the next one."""
    lines = ["    step();"] * length
    for at, text in definitions.items():
        lines[at - 1] = text
        if at > 1:
            lines[at - 2] = "}"
    lines[crash_at - 1] = crash
    return "\n".join(lines) + "\n"


def _candidate_named(
    tmp_path: Path, trace: str, files: Sequence[str], sources: dict[str, str], *, packages: Sequence[str] = (),
    source_roots: Sequence[str] = (),
) -> Candidate:  # fmt: skip
    """The first candidate of the trace, named as the investigator names it from the checked-out `sources`."""
    for at, text in sources.items():
        (tmp_path / at).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / at).write_text(text, encoding="utf-8")
    stack: StackTrace = parsed(trace, packages, source_roots)
    candidate = rank(stack, files, packages=packages, source_roots=source_roots).candidates[0]
    checkout = CheckedOut(repo="acme/app", path=tmp_path, commit="0" * 40, ref_source="test")
    return _named(checkout, candidate, stack)


# --- a .NET frame wrapped inside its path is read before the runtime is told ---


def test_a_dotnet_trace_whose_only_frame_a_paste_wrapped_is_read_as_dotnet() -> None:
    stack = parsed(SM4SH)
    assert stack.language == "dotnet"
    [frame] = stack.exceptions[0].frames
    assert (frame.module, frame.function, frame.line) == ("DTLS.Types.Program", "Main", 78)
    assert frame.file is not None and frame.file.endswith("Sm4sh-Tools-master\\DTLS\\Program.cs")
    first = first_of(SM4SH, SM4SH_FILES)
    assert (first.path, first.function) == ("DTLS/Program.cs", "Main")


def test_a_wrapped_dotnet_frame_behind_the_runtimes_indentation_is_read_alike() -> None:
    trace = SM4SH.replace("\nat DTLS", "\n   at DTLS")
    assert first_of(trace, SM4SH_FILES).path == "DTLS/Program.cs"


@pytest.mark.parametrize(
    "prefix",
    ["3|app  | ", "web_1  | ", "2024-05-13T15:06:38.{n:03d}Z stderr F ", "May 13 15:06:{n:02d} host app[7]: "],
)
def test_a_wrapped_dotnet_frame_behind_a_shippers_prefix_is_read_alike(prefix: str) -> None:
    # the prefix comes off only when that makes lines read as a trace: the two halves count as the one frame
    trace = "\n".join(prefix.format(n=n) + line for n, line in enumerate(SM4SH.splitlines()))
    assert first_of(trace, SM4SH_FILES).path == "DTLS/Program.cs"


def test_two_lines_that_make_no_frame_with_a_line_number_are_not_joined() -> None:
    # the path's tail without `:line N`: joined, the two lines would still name no position
    trace = SM4SH.replace("Program.cs:line 78", "Program.cs")
    assert parse_stacktrace(trace) is None


def test_a_jvm_frame_cut_inside_its_location_stays_the_jvms() -> None:
    trace = "java.lang.NullPointerException: x\n\tat com.acme.Foo.bar(Foo.ja\nva:12)\n\tat com.acme.Foo.baz(Foo.java:1)"
    stack = parsed(trace)
    assert stack.language == "jvm"
    assert [f.function for f in stack.exceptions[0].frames][-1] == "baz"


# --- gccgo's mangled method symbols ---


def test_gccgo_method_symbols_are_read_as_gc_prints_methods() -> None:
    frames = parsed(GOOTSTRAP, GOOTSTRAP_PACKAGES).exceptions[0].frames
    assert [(f.module, f.function) for f in frames[:5]] == [
        ("main", "GitIgnoreFile.Parse"), ("main", "gootFile.createFile"), ("main", "createOrErrorOut"),
        ("main", "gootFile.performCreation"), ("main", "filesList.Process"),
    ]  # fmt: skip
    first = first_of(GOOTSTRAP, GOOTSTRAP_FILES, GOOTSTRAP_PACKAGES)
    assert (first.path, first.function) == ("templates.go", "Parse")


def test_a_gccgo_pointer_receiver_is_written_as_gc_writes_it() -> None:
    # `runtime.FuncForPC` under gccgo, as go-goose/goose's hook quotes it
    package = "launchpad.net_goose_testservices_novaservice"
    name = f"{package}.removeServer.pN49_{package}.Nova"
    trace = f"panic: boom\n\ngoroutine 1 [running]:\n{name}\n\t/src/novaservice/service.go:12\n"
    [frame] = parsed(trace).exceptions[0].frames
    assert (frame.module, frame.function) == (package, "(*Nova).removeServer")


@pytest.mark.parametrize(
    "symbol",
    [
        "main.Parse.N17_main.GitIgnoreFile",  # the length does not count the receiver
        "main.Parse.N19_other.GitIgnoreFile",  # a receiver declared in another package
        "main.Parse.N4_main",  # no type after the package
        "main.(*Store).Get",  # gc's own spelling
        "main.Nodes.func1",
    ],
)
def test_a_name_that_is_no_gccgo_method_symbol_is_left_as_printed(symbol: str) -> None:
    trace = f"panic: boom\n\ngoroutine 1 [running]:\n{symbol}\n\t/src/app/templates.go:25\n"
    [frame] = parsed(trace).exceptions[0].frames
    assert frame.module == "main"
    assert frame.function == symbol.removeprefix("main.")


# --- a Forge SRG name is the method around the line ---

TILE = _source({22: "public abstract class TileEntityAdvanced extends TileEntity {",
                31: "    public void updateEntity()", 82: "    private void initFieldCache() throws Exception"},
               63, "            this.fieldCacheServer.clear();")  # fmt: skip


def test_a_forge_srg_name_is_named_after_the_method_the_mod_wrote(tmp_path: Path) -> None:
    named = _candidate_named(tmp_path, GALACTICRAFT, GALACTICRAFT_FILES, {GALACTICRAFT_FILES[0]: TILE},
                             **GALACTICRAFT_CONFIG)  # fmt: skip
    assert (named.path, named.function) == (GALACTICRAFT_FILES[0], "updateEntity")
    assert "Forge's SRG name" in named.reason


def test_a_source_that_spells_the_srg_name_keeps_it(tmp_path: Path) -> None:
    # mods of the SRG-named era override `func_145845_h` by that very name
    source = TILE.replace("public void updateEntity()", "public void func_145845_h()")
    named = _candidate_named(tmp_path, GALACTICRAFT, GALACTICRAFT_FILES, {GALACTICRAFT_FILES[0]: source},
                             **GALACTICRAFT_CONFIG)  # fmt: skip
    assert named.function == "func_145845_h"


@pytest.mark.parametrize("printed", ["update", "func_update", "func_145845", "field_145845_h"])
def test_a_name_that_is_no_srg_method_name_is_left_alone(tmp_path: Path, printed: str) -> None:
    trace = GALACTICRAFT.replace("TileEntityAdvanced.func_145845_h(", f"TileEntityAdvanced.{printed}(")
    named = _candidate_named(tmp_path, trace, GALACTICRAFT_FILES, {GALACTICRAFT_FILES[0]: TILE}, **GALACTICRAFT_CONFIG)
    assert named.function == printed


# --- an installed package's compiled frame is named from the committed build at its path ---

DIST = _source({4: "function fulfilled(value) { step(value); }", 19: "function isURL(url) {",
                28: "function devCommand(ws, config) {"},
               71, "            config.uploadConfig.config.js = x.map((item) => {")  # fmt: skip
TS = _source({12: "function isURL(url: string) {", 22: "export function devCommand(ws: any, config: any) {"},
             71, "            spawnSync('npm', ['run', 'build'])")  # fmt: skip


def test_an_installed_packages_frame_is_named_from_the_committed_build_at_its_path(tmp_path: Path) -> None:
    sources = {"dist/commands/Dev/devCommand.js": DIST, "src/commands/Dev/devCommand.ts": TS}
    named = _candidate_named(tmp_path, KINTONE, KINTONE_FILES, sources, source_roots=["src"])
    assert (named.path, named.function) == ("src/commands/Dev/devCommand.ts", "devCommand")


def test_without_the_committed_build_the_compiled_line_names_nothing(tmp_path: Path) -> None:
    files = [f for f in KINTONE_FILES if not f.startswith("dist/")]
    named = _candidate_named(tmp_path, KINTONE, files, {"src/commands/Dev/devCommand.ts": TS}, source_roots=["src"])
    assert (named.path, named.function) == ("src/commands/Dev/devCommand.ts", "on")


def test_a_workspace_build_is_no_installed_package(tmp_path: Path) -> None:
    # built in place from the source, not unpacked from a published package: the committed build may be older
    trace = KINTONE.replace(_INSTALLED, "C:\\work\\kintone-cli")
    sources = {"dist/commands/Dev/devCommand.js": DIST, "src/commands/Dev/devCommand.ts": TS}
    named = _candidate_named(tmp_path, trace, KINTONE_FILES, sources, source_roots=["src"])
    assert (named.path, named.function) == ("src/commands/Dev/devCommand.ts", "on")
