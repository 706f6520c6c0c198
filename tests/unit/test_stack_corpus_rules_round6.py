"""Rules added after the sixth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.domain.stack import Frame
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.framenames import bare_function, enclosing_function, is_anonymous

# dotnet/dsharpplus-dsharpplus-1961: Serilog's line, the exception, and its one frame cut in the parameters
DSHARPPLUS = """\
2024-06-14 00:20:35.194 +00:00 [ERR] Event handler exception for event INTERACTION_CREATED thrown from \
System.Threading.Tasks.Task ExecuteInteractionAsync(DSharpPlus.DiscordClient, \
DSharpPlus.EventArgs.InteractionCreateEventArgs) (defined in DSharpPlus.Commands.Processors.SlashCommands.\
SlashCommandProcessor)
System.NullReferenceException: Object reference not set to an instance of an object.
   at DSharpPlus.Commands.Processors.SlashCommands.SlashCommandProcessor.TryFindCommand(\
DiscordInteraction interaction, Command& command, IEnumerable`1
"""
CUT_METHOD = "DSharpPlus.Commands.Processors.SlashCommands.SlashCommandProcessor"


def test_a_dotnet_frame_cut_in_its_parameters_at_the_entrys_end_is_a_frame() -> None:
    trace = parse_stacktrace(DSHARPPLUS, packages=["DSharpPlus"])
    assert trace is not None and trace.language == "dotnet"
    assert trace.primary.type == "System.NullReferenceException"
    [frame] = trace.primary.frames
    assert (frame.module, frame.function, frame.file, frame.line) == (CUT_METHOD, "TryFindCommand", None, None)
    assert frame.in_app


def test_the_cut_frame_follows_whole_frames_and_a_trailing_blank_line() -> None:
    whole = "   at DSharpPlus.DiscordClient.Dispatch(InteractionCreateEventArgs e) in /src/DiscordClient.cs:line 40\n"
    lines = DSHARPPLUS.splitlines()
    trace = parse_stacktrace("\n".join([*lines[:2], whole.rstrip(), lines[2], "", ""]), packages=["DSharpPlus"])
    assert trace is not None
    assert [f.function for f in trace.primary.frames] == ["Dispatch", "TryFindCommand"]


def test_the_cut_frame_is_read_behind_a_process_managers_prefix() -> None:
    shipped = "\n".join("3|app  | " + line for line in DSHARPPLUS.splitlines())
    trace = parse_stacktrace(shipped, packages=["DSharpPlus"])
    assert trace is not None and [f.function for f in trace.primary.frames] == ["TryFindCommand"]


def test_a_cut_line_without_a_type_before_its_method_is_no_frame() -> None:
    # .NET prints `Type.Method(` at least; `at startup(` under an exception is a sentence cut short
    log = "System.InvalidOperationException: bind failed\n   at startup("
    assert parse_stacktrace(log) is None


def test_a_cut_line_that_is_not_the_last_or_holds_a_location_stays_unread() -> None:
    lines = DSHARPPLUS.splitlines()
    # the cut line followed by more text: not a cut at the entry's end
    assert parse_stacktrace("\n".join([*lines, "   and the rest of the log record"])) is None
    # a V8 frame cut inside its location: closing it would invent a line number
    node = "TypeError: x is undefined\n    at Object.<anonymous> (/app/src/index.js:1"
    assert parse_stacktrace(node) is None
    # a JVM frame cut inside its file name: closing it would invent the file `Foo.ja`
    jvm = "java.lang.IllegalStateException: boom\n\tat com.acme.Foo.run(Foo.ja"
    assert parse_stacktrace(jvm) is None


# go/k1low-sheer-heart-attack-19: a cobra command's `Run` literal in a package-level variable, as Go ≤ 1.21
# names it; Go ≥ 1.22 compiles package initialisers into `init` and prints `cmd.init.func1`
SHEER_FRAME = """\
goroutine 1 [running]:
github.com/k1LoW/sheer-heart-attack/cmd.glob..func1(0x4822c60, 0x4847b50, 0x0, 0x0)
        /Users/k1low/src/github.com/k1LoW/sheer-heart-attack/cmd/launch.go:113 +0x184c
github.com/spf13/cobra.(*Command).execute(0x4822c60, 0x4847b50, 0x0, 0x0, 0x4822c60, 0x4847b50)
        /Users/k1low/go/pkg/mod/github.com/spf13/cobra@v0.0.3/command.go:766 +0x2ae
"""
# a command file laid out as cobra's generator writes one (written for this test, not the project's code)
COMMAND_FILE = """\
package cmd

var verbose bool

var launchCmd = &cobra.Command{
\tUse:   "launch",
\tRun: func(cmd *cobra.Command, args []string) {
\t\tif len(args) == 0 {
\t\t\tos.Exit(1)
\t\t}
\t\tchannel := args[1]
\t\trun(channel)
\t},
}

func init() {
\trootCmd.AddCommand(launchCmd)
\tlaunchCmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "verbose")
\tgo func() {
\t\twatch()
\t}()
}
"""


def _frame(function: str, line: int) -> Frame:
    return Frame(function=function, module="github.com/acme/tool/cmd", file="/src/cmd/launch.go", line=line,
                 in_app=True, raw=f"github.com/acme/tool/cmd.{function}(...)")  # fmt: skip


def test_a_go_closure_of_a_package_level_variable_is_named_after_the_variable() -> None:
    trace = parse_stacktrace(SHEER_FRAME, packages=["github.com/k1LoW/sheer-heart-attack"])
    assert trace is not None
    frame = trace.primary.frames[0]
    assert frame.function == "glob..func1" and is_anonymous(bare_function(frame, "go"))
    lines = COMMAND_FILE.splitlines()
    assert enclosing_function(lines, 11, "go") == "launchCmd"
    # Go ≥ 1.22 prints the same literal as `init.func1`: the line, not the name, says which declaration holds it
    assert is_anonymous(bare_function(_frame("init.func1", 11), "go"))
    assert is_anonymous(bare_function(_frame("glob..func1.2", 11), "go"))


def test_a_closure_inside_func_init_is_still_init_and_named_closures_keep_their_function() -> None:
    lines = COMMAND_FILE.splitlines()
    assert enclosing_function(lines, 20, "go") == "init"
    assert bare_function(_frame("(*Store).Load.func1", 11), "go") == "Load"
    assert bare_function(_frame("init.0", 17), "go") == "init"  # the first of several `func init()`
    assert bare_function(_frame("initialise.func1", 11), "go") == "initialise"


def test_a_closure_in_a_var_block_gets_no_name_from_the_function_above_the_block() -> None:
    source = ["package cmd", "", "func helper() {", "}", "", "var (", "\tcmds = []*cobra.Command{{",
              "\t\tRun: func() {", "\t\t\tx()", "\t\t},", "\t}}", ")"]  # fmt: skip
    assert enclosing_function(source, 9, "go") is None
