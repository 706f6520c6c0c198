"""A stack frame's function as a developer would name it: the bare name behind a runtime's decorations
(`(*Store).Get.func1`, `<RunAsync>d__5.MoveNext`, `lambda$place$0`), and, for a frame the runtime
could not name, the named function around its line in the source. Pure: reads the lines it is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from error_autopilot.domain.stack import Frame, Language, StackTrace
from error_autopilot.incidents.stackparse.loose import UNNAMED

_GO_ANON = re.compile(r"^(?:func(?:\d+|·\d+)|\d+|gowrap\d+|deferwrap\d+)$")  # `func·007`: Go ≤ 1.4
_JVM_SYNTHETIC = re.compile(r"^(?:lambda\$|access\$|\$anonfun\$)")
JVM_WRAPPERS = frozenset({"invoke", "invokeSuspend", "run", "call", "apply", "accept", "get", "test", "resumeWith",
                           "doResume", "handle", "onNext", "subscribe"})  # fmt: skip

_ANONYMOUS = frozenset({"anonymous", "<anonymous>", UNNAMED, "<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>",
                        "<setcomp>", "lambda", "listcomp", "genexpr", "dictcomp", "setcomp", "module",
                        "<module>"})  # fmt: skip
# Where a named function starts, per language: what an anonymous frame's enclosing function looks like.
# Each repetition below either matches or fails at once (possessive `*+`, alternatives that start
# differently), so a minified megabyte-long line costs one pass, not a backtracking search.


def _nested(inner: str, depth: int) -> str:
    """Angle brackets holding `inner` characters and brackets of their own, `depth` levels deep."""
    pattern = rf"<(?:{inner})*+>"
    for _ in range(depth - 1):
        pattern = rf"<(?:{inner}|{pattern})*+>"
    return pattern


# A generic type's arguments as written, spaces included: `<UUID, Team>`, `<String, List<Map<K, V>>>`,
# `<? super T>`, `<String, @NonNull Integer>`, a C# tuple `<(int Id, string Name)>`; never an argument
# list's parenthesis, so `foo(a < b, c > d)` is no type.
_GENERIC = _nested(r"[^<>()]|\([^()<>]*\)", 4)
_TYPE = rf"[\w$.]+(?:{_GENERIC})?(?:\?|\[[\s,]*\])*+"  # `Map<UUID, Team>`, `String[]`, `int[,]`, `string?`
_JVM_MODIFIERS = (
    r"(?:(?:public|private|protected|internal|static|final|abstract|synchronized|native|override|virtual|sealed|"
    r"async|open|suspend|inline|partial|unsafe|extern|default|operator|infix|tailrec|@[\w.]+(?:\([^()]*\))?)\s+)*+"
)
_NOT_A_TYPE = r"(?!(?:return|new|throw|else|await|yield|case|var|val|if|for|while|switch|catch|using|lock|foreach)\b)"
_NOT_CONTROL = r"(?!(?:if|for|while|switch|catch|return|function)\b)"
# TypeScript: type parameters `<T, U extends X<T>>`, a parameter list one parenthesis deep (a default
# `b = f()`, a callback `cb: (e: Error) => void`), a return type up to the body's `{` (an object type
# `Promise<{ ok: boolean }>` included) or up to an arrow's `=>`.
_TS_TYPE_PARAMS = _nested(r"[^<>()]", 3)
_TS_PARAMS = r"\((?:[^()]|\([^()]*\))*+\)"
_TS_ARROW = rf"(?:(?:{_TS_TYPE_PARAMS}\s*)?{_TS_PARAMS}\s*(?::(?:[^={{}};]|\{{[^{{}}]*\}})*+)?=>|[A-Za-z_$][\w$]*\s*=>)"
_DEFINITIONS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"^(?P<indent>\s*+)(?:async\s+)?def\s+(?P<name>[A-Za-z_]\w*)\s*\("),
    "node": re.compile(
        r"^(?P<indent>\s*+)(?:export\s+)?(?:default\s+)?"
        r"(?:(?:public|private|protected|static|async|override|readonly|get|set)\s+)*+"
        r"(?:function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*[<(]"
        rf"|(?P<method>{_NOT_CONTROL}[A-Za-z_$][\w$]*)\s*(?:{_TS_TYPE_PARAMS})?\s*{_TS_PARAMS}\s*"
        r"(?::(?:[^={};]|=>|\{[^{}]*\})*+)?\{\s*$"
        r"|(?:(?:const|let|var)\s+)?(?P<bound>[A-Za-z_$][\w$.]*)\s*"
        rf"(?::\s*(?!async\b|function\b)[^=;(]*+)?[:=]\s*(?:async\s+)?(?:function\b|{_TS_ARROW}))"
    ),
    # a function, or a package-level variable whose initialiser holds the line (`var rootCmd = &cobra.Command{`)
    "go": re.compile(
        r"^(?P<indent>)(?:func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*[\[(]|var\s+(?P<bound>[A-Za-z_]\w*)\s*[\w.*\[\]]*\s*=)"
    ),
    # a method: modifiers, type parameters, a return type, the name, `(`; Kotlin's `fun <T> Recv<T>.name(`.
    # Control keywords are no type.
    "jvm": re.compile(
        rf"^(?P<indent>\s*+){_JVM_MODIFIERS}(?:fun\s+(?:{_GENERIC}\s*)?(?:{_TYPE}\.)?(?P<name>\w+)"
        rf"|(?:{_GENERIC}\s+)?{_NOT_A_TYPE}{_TYPE}\s+(?P<method>(?!if\b|for\b|while\b)[A-Za-z_$][\w$]*))\s*\("
    ),
    "dotnet": re.compile(
        rf"^(?P<indent>\s*+){_JVM_MODIFIERS}(?:{_GENERIC}\s+)?{_NOT_A_TYPE}"
        rf"(?:{_TYPE}|\([^(),]*(?:,[^(),]*)++\)\??)\s+"
        rf"(?P<method>(?!if\b|for\b|while\b)[A-Za-z_]\w*)\s*(?:{_GENERIC})?\s*\("
    ),
}

# A JVM or C# constructor: modifiers, then the class's name and `(`, no return type. The modifier is what
# tells it from a call.
_CONSTRUCTOR = re.compile(
    r"^(?P<indent>\s*+)(?:@[\w.]+(?:\([^()]*\))?\s+)*+(?:(?:public|private|protected|internal|static)\s+)++"
    r"(?P<member>[A-Za-z_$][\w$]*)\s*\("
)
# A class member whose parameters run over several lines (`public async getDetails({`): the modifier says
# it is a definition, not a call.
_TS_MEMBER = re.compile(
    r"^(?P<indent>\s*)(?:(?:public|private|protected|static|async|override)\s+)+"
    r"(?P<member>[A-Za-z_$][\w$]*)\s*(?:<[^()]*>)?\((?!.*\)\s*;\s*$)"
)
_MEMBERS = {"node": _TS_MEMBER, "jvm": _CONSTRUCTOR, "dotnet": _CONSTRUCTOR}  # tried when no definition matched
# A class (or interface, struct, object…) declaration: the body it opens holds only its members.
_CLASS_OPENER = re.compile(
    r"^(?:[\w@.()\[\]]+\s+)*?(?:class|interface|struct|record|object|enum|trait)\s+[A-Za-z_$][\w$]*\b(?!\s*=)"
)
# A Go `var (`/`const (` block: the names inside it are indented like statements, so none is read as a
# definition, and nothing declared above the block holds its lines.
_GO_BLOCK = re.compile(r"^(?:var|const)\s*\(")
# Go's compiler names a function literal after the function that holds it (`Load.func1`); one in a
# package-level variable's initialiser has none, and is named `glob..func1` (cmd/compile `closurename`,
# "Global closure") or, since the initialisers compile into the package's `init`, `init.func1`
# (`closureName`). Which declaration holds it only the source says.
_GO_PACKAGE_CLOSURE = re.compile(r"^(?:glob\.|init)\.func\d+(?:\.\d+)*$")
# Go 1.4 and earlier named every function literal of a package `func·NNN` from one package-wide counter
# (cmd/gc closure.c: `snprint(namebuf, sizeof namebuf, "func·%.3d", ++closgen)`), so the printed name
# says nothing of the function that holds it; Go 1.5 moved to `Outer.funcN`. Only the source says.
_GO14_CLOSURE = re.compile(r"^func·\d+$")
# A lambda inside a constructor or static initialiser: the compilers name it after the enclosing method's
# metadata name, which for a constructor is no name a developer wrote: Roslyn `<.ctor>b__7_0`,
# `<.cctor>b__6_0` (GeneratedNames `MakeLambdaMethodName`: `<` containing method `>b__`), javac
# `lambda$new$0`, `lambda$static$1` (LambdaToMethod: `<init>` is written `new`, `<clinit>` `static`). The
# constructor is written as the class's name. (A local function keeps the name it was given, `>g__Name|`.)
_IN_CONSTRUCTOR = re.compile(r"<\.c?ctor>b__|^lambda\$(?:new|static)\$")
_CLOSER = re.compile(r"^[}\])]")
_REOPENS = re.compile(r"[{(\[,:]\s*$|=>\s*$")  # `} else {`, `}) {`, `):` continue the same block or signature
_COMMENT = re.compile(r"^(?:#|//|/?\*)")


def enclosing_function(lines: Sequence[str], line: int | None, language: Language) -> str | None:
    """The named function whose body holds `line` (1-based), for a frame the runtime printed without a
    name (an arrow function, a callback, a comprehension, a bare `file:line` position); None when the
    source does not say.

    Walking up from the line, a definition encloses it only if no block closed in between: a closing
    bracket at or left of the definition's indentation (a dedented statement in Python) ends its body,
    so a sibling helper defined earlier in the same function is not taken for the function; reaching the
    declaration of a class that holds the line ends the walk (a method the pattern does not read, such
    as `@bind async onMessage(…)`, leaves no name rather than the function above the class)."""
    pattern = _DEFINITIONS.get(language)
    if pattern is None or not line or line > len(lines):
        return None
    here = lines[line - 1]
    floor = len(here) - len(here.lstrip())
    for text in reversed(lines[max(0, line - 400) : line]):
        body = text.strip()
        if not body or _COMMENT.match(body):
            continue
        indent = len(text) - len(text.lstrip())
        m = pattern.match(text) or (member.match(text) if (member := _MEMBERS.get(language)) else None)
        if m is not None and len(m["indent"]) < max(floor, 1):
            groups = m.groupdict()
            if name := groups.get("name") or groups.get("method") or groups.get("bound") or groups.get("member"):
                return str(name).rsplit(".", 1)[-1]
        if indent < floor and _CLASS_OPENER.match(body):
            return None  # inside a class whose method was not recognised: nothing declared above it encloses
        if language == "go" and _GO_BLOCK.match(text):
            return None
        closes = _CLOSER.match(body) is not None and not _REOPENS.search(body)
        if closes or (language == "python" and not _CLOSER.match(body)):
            floor = min(floor, indent)
    return None


# V8 prints `new X` for a frame whose function was called as a constructor (CallSite `isConstructor()`)
_V8_NEW = re.compile(r"^\s*at (?:async )?new (?P<name>[A-Za-z_$][\w$]*) ")


def constructed_class(frame: Frame) -> str | None:
    """`X` when V8 printed the frame as `new X`: the frame runs X's constructor."""
    m = _V8_NEW.match(frame.raw)
    return m["name"] if m else None


def class_constructor(lines: Sequence[str], line: int | None, constructed: str) -> bool:
    """The code `new X` ran at `line` is a `class X`'s `constructor` method, not a function `X` (ES5): the
    source defines `class X`, or the function around the line is `constructor` (a nameless class
    expression). A developer calls it `constructor`, as the class body spells it."""
    declared = re.compile(rf"\bclass\s+{re.escape(constructed)}\b")
    if any(declared.search(text) for text in lines):
        return True
    return enclosing_function(lines, line, "node") == "constructor"


# V8 prints a call on a receiver as `Type.name`: the function's own name, or, when the function has none
# (a function expression passed as a callback), the property the receiver holds it under
# (`CallSiteInfo` `AppendMethodCall`, src/objects/call-site-info.cc: no function name → type name, `.`, the
# method name found by a property lookup). `Request._callback` is then the request library's field holding
# an anonymous callback of ours; the name says nothing of our source.
_V8_METHOD_CALL = re.compile(r"^(?:async )?[A-Za-z_$][\w$]*\.(?P<name>[A-Za-z_$][\w$]*)$")


def receiver_property(frame: Frame, lines: Sequence[str]) -> str | None:
    """The property name V8 printed for a frame's function (`Request._callback` → `_callback`) when the
    frame's source never spells that name, so the function running there cannot be one it names: an
    anonymous function stored on someone else's object. None when the name appears in the source (the
    function may well be called so) or the frame is not printed as a call on a receiver."""
    m = _V8_METHOD_CALL.match(frame.function.strip())
    if m is None:
        return None
    word = re.compile(rf"(?<![\w$]){re.escape(m['name'])}(?![\w$])")
    return None if any(word.search(text) for text in lines) else m["name"]


# V8 names a function literal that has no name of its own by inference from where it stands, joining the names it
# collected with `.` (v8/src/parsing/func-name-inferrer.h, `MakeNameFromStack`): `a.b.c = function () {}` is `a.b.c`,
# and, as Node 8 to 11 print it, a literal passed as an argument is named after the call's target (the arrow of
# `instance.on('tick', () => …)` runs as `instance.on`; Node 8 printed `bot.on('message', msg => …)` as `bot.on.msg`,
# the parameter read before the `=>` taken for a name too). A declared function or method has one identifier for a
# name and a type name is a constructor's, so a frame printed with three dotted parts or more (`Client.bot.on.msg`,
# `EventEmitter.instance.on`: the receiver's type, then the inferred name) runs a literal V8 named so. Found in two
# held-out sets read apart (rounds 16 and 17), each with the same rule.
_V8_INFERRED = re.compile(r"^(?:async )?[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*){2,}$")


def inferred_name(frame: Frame) -> str | None:
    """The name V8 inferred for a function literal of ours (`Client.bot.on.msg` → `bot.on.msg`), which says where
    the literal was written, not what it is called: the named function around its line names it (an assigned
    literal's target is such a definition itself). None for a name a declaration could have given; ` [as m]` aside."""
    fn = re.sub(r"\s*\[as [^\]]*\]$", "", frame.function.strip())
    return fn.removeprefix("async ").split(".", 1)[1] if _V8_INFERRED.match(fn) else None


def same_line_caller(stack: StackTrace, frame: Frame) -> str | None:
    """The named function of the frame that called an anonymous `frame` from the same file and line:
    a function executing on the very line its caller is calling from is a literal on that line
    (`xs.some(x => x.tags.some(…))`), so it lives inside the caller. Frames without a position between
    them (`Array.some (<anonymous>)`, the builtin that invoked the callback) and other anonymous frames
    on that line are passed over; None when the next positioned frame is elsewhere."""
    for exc in stack.exceptions:
        frames = exc.frames
        at = next((i for i, f in enumerate(frames) if f is frame), None)
        if at is None:
            at = next((i for i, f in enumerate(frames) if f == frame), None)
        if at is None:
            continue
        for caller in frames[at + 1 :]:
            if caller.line is None:
                continue
            if caller.file != frame.file or caller.line != frame.line:
                return None
            name = bare_function(caller, stack.language)
            if not is_anonymous(name):
                return name
        return None
    return None


def callback_caller(stack: StackTrace, frame: Frame) -> str | None:
    """The named function that passed an anonymous callback to a builtin, for a V8 frame named after the call
    it was passed to (`instanceWrappers.map`): V8's function-name inference names a function literal given as
    an argument after the call's target (v8/src/parsing/func-name-inferrer.h; Node 8 to 11 print it so), and
    the builtin that ran it follows without a position (`Array.map (<anonymous>)`, its method the same). The
    literal lives in the function making that call, the next positioned frame, when that frame is in the same
    file; None otherwise."""
    receiver, _, method = frame.function.strip().rpartition(".")
    if stack.language != "node" or not receiver or not method.isidentifier() or frame.file is None:
        return None
    for exc in stack.exceptions:
        at = next((i for i, f in enumerate(exc.frames) if f is frame), None)
        if at is None:
            at = next((i for i, f in enumerate(exc.frames) if f == frame), None)
        if at is None or at + 2 >= len(exc.frames):
            continue
        builtin, caller = exc.frames[at + 1], exc.frames[at + 2]
        if builtin.line is not None or builtin.function.rpartition(".")[2] != method or "." not in builtin.function:
            return None
        if caller.file != frame.file or caller.line is None:
            return None
        name = bare_function(caller, stack.language)
        return None if is_anonymous(name) else name
    return None


# Minecraft Forge's SRG names: MCPConfig numbers every obfuscated Minecraft method and names it `func_<SRG id>_<its
# obfuscated name>` (Forge community wiki, "Toolchain: MCP", SRG names). A mod is written against MCP's readable names
# and ForgeGradle's `reobf` task renames its jar to the SRG names the game runs with, so a mod's override of a game
# method (`updateEntity`) runs, and its frame prints, as `func_145845_h`, at the line of the mod's own source.
_SRG_METHOD = re.compile(r"^func_\d+_[A-Za-z]+$")


def reobfuscated(frame: Frame, lines: Sequence[str]) -> bool:
    """Whether a JVM frame's method is printed under a Forge SRG name (`_SRG_METHOD`) its source never spells: a
    reobfuscated mod's method, which the function around the frame's line names as the source does. A source that
    writes the SRG name itself (mods of the SRG-named era did) keeps it."""
    if _SRG_METHOD.match(frame.function.strip()) is None:
        return False
    word = re.compile(rf"(?<![\w$]){re.escape(frame.function.strip())}(?![\w$])")
    return not any(word.search(text) for text in lines)


def is_anonymous(function: str) -> bool:
    """A frame the runtime could not name."""
    return function in _ANONYMOUS


def bare_function(frame: Frame, language: Language | None = None) -> str:
    """The function's plain name as a developer would search for it (`(*Store).Get.func1` → `Get`,
    `<RunAsync>d__5.MoveNext` → `RunAsync`, `lambda$place$0` → `place`, `Object.handler` → `handler`)."""
    fn = frame.function.strip()
    if fn == UNNAMED:  # a position only: `_named` asks the source
        return fn
    if language == "go" or (frame.file or "").endswith(".go"):
        if _GO_PACKAGE_CLOSURE.match(fn) or _GO14_CLOSURE.match(fn):  # `_named` asks the source what holds it
            return "anonymous"
        parts = [p for p in re.sub(r"\[[^\]]*\]", "", fn).split(".") if p]
        named = [p for p in parts if not _GO_ANON.match(p) and not p.startswith("(")]
        return named[-1] if named else fn
    if fn == "MoveNext" and (state_machine := re.search(r"\+<(\w+)>", frame.module or "")):  # `Type+<Run>d__4`
        return state_machine[1]
    if (fn in ("<init>", ".ctor", "constructor", "<clinit>", ".cctor") or _IN_CONSTRUCTOR.search(fn)) and frame.module:
        return _constructed(frame.module)
    if local := re.search(r">g__([A-Za-z_]\w*)\|", fn):  # .NET local function `<Outer>g__Inner|0_0`
        return local[1]
    if "<" in fn and ">" in fn and (m := re.search(r"<<?([A-Za-z_]\w*)>", fn)):  # .NET async/lambda
        return m[1]
    if language in ("jvm", None) and _JVM_SYNTHETIC.match(fn):
        pieces = [p for p in fn.split("$") if p and p not in ("lambda", "access", "anonfun") and not p.isdigit()]
        if pieces:
            return pieces[0]
    if language == "jvm" and fn in JVM_WRAPPERS and frame.module and "$" in frame.module:
        inner = [p for p in frame.module.split("$")[1:] if p and not p.isdigit() and p[0].islower()]
        if inner:
            return inner[-1]
    if language == "dotnet" and (accessor := re.match(r"^(?:get|set|add|remove)_([A-Z]\w*)$", fn)):
        return accessor[1]  # a property or event accessor: the property is what a developer names
    fn = re.sub(r"\s*\[as [^\]]*\]$", "", fn).removeprefix("async ").removeprefix("new ")
    fn = fn.split("$", 1)[0] if language == "jvm" and "$" in fn and not fn.startswith("$") else fn
    tail = fn.rsplit(".", 1)[-1] if "." in fn else fn
    return tail.split("[", 1)[0] or fn


def _constructed(module: str) -> str:
    """The class a constructor frame builds, as its source names it: the innermost named class of a nested
    binary name (javac `Outer$Inner`, JLS 13.1 "The Form of a Binary"; the CLR's `Outer+Inner`), not the
    outer one; an anonymous or compiler-generated class (`Outer$1`, `<>c__DisplayClass4_0`, a generic's
    `` `1 ``, a Scala object's trailing `$`) has no name of its own and is passed over."""
    parts = re.split(r"[$+`]", module.rsplit(".", 1)[-1])
    named = [p for p in parts if re.fullmatch(r"[A-Za-z_]\w*", p)]
    return named[-1] if named else parts[0]
