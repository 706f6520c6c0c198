"""Rules added after the sixth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.incidents.stacktrace import parse_stacktrace

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
