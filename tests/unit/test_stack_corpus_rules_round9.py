"""Rules added after the ninth held-out set was read (issue 11). Each rule is checked on the real lines of
the corpus case that showed it (`tests/fixtures/realworld/<ecosystem>/<case>/trace.txt`, quoted here so the
test does not move when the corpus does) and on variants it must leave alone."""

from __future__ import annotations

from error_autopilot.domain.stack import Frame
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.framenames import bare_function, enclosing_function, receiver_property

# node/hjespers-node-red-contrib-nest-4: the request library calls our callback as its `_callback` field
NEST = """\
5 Feb 18:11:21 - TypeError: Cannot read property 'toString' of undefined
    at Request._callback (/home/scott/.node-red/node_modules/node-red-contrib-nest/nest/nest.js:96:49)
    at self.callback (/home/scott/.node-red/node_modules/node-red-contrib-nest/node_modules/request/request.js:198:22)
    at Request.emit (events.js:107:17)
"""

# The shape of nest.js around line 96 (a Node-RED node constructor passing a callback to `request`): the
# function holding the callback is the node's constructor; `_callback` is spelled nowhere in the file.
NEST_SOURCE = [
    "module.exports = function(RED) {",
    *["    // config"] * 16,
    "    function NestRequestNode(n) {",  # line 18
    *["        var node = this;"] * 60,
    "        request({ url: url, method: 'GET' }, function(error, response, body) {",  # line 79
    *["            node.status({});"] * 16,
    "            var data = JSON.parse(body.toString());",  # line 96
    "        });",
    "    }",
    "};",
]


def test_a_callback_held_by_another_objects_field_is_named_after_the_function_around_it() -> None:
    stack = parse_stacktrace(NEST)
    assert stack is not None
    frame = stack.exceptions[0].frames[0]
    assert (frame.function, frame.line) == ("Request._callback", 96)
    assert receiver_property(frame, NEST_SOURCE) == "_callback"
    assert enclosing_function(NEST_SOURCE, frame.line, "node") == "NestRequestNode"


def test_a_method_the_source_spells_keeps_its_name() -> None:
    # a prototype method or class method V8 prints as `Type.name` is the function the source calls so
    stack = parse_stacktrace(NEST.replace("Request._callback", "NestRequestNode.onResponse"))
    assert stack is not None
    frame = stack.exceptions[0].frames[0]
    source = [*NEST_SOURCE[:-1], "    NestRequestNode.prototype.onResponse = function(body) {};", "};"]
    assert receiver_property(frame, source) is None
    # nor is a name merely mentioned (a field assigned, a call) taken for a foreign one
    assert receiver_property(frame, [*NEST_SOURCE, "node.onResponse(body);"]) is None


def test_a_plain_function_name_or_a_nameless_frame_is_not_a_receivers_field() -> None:
    for function in ("callback", "Object.<anonymous>", "Request.<anonymous>"):
        stack = parse_stacktrace(NEST.replace("Request._callback", function))
        assert stack is not None
        assert receiver_property(stack.exceptions[0].frames[0], NEST_SOURCE) is None, function


# jvm/gitbucket-gitbucket-3989: the NPE is in the constructor of the case class nested in the `JGitUtil` object
GITBUCKET = """\
java.lang.NullPointerException: Cannot invoke "org.eclipse.jgit.revwalk.RevCommit.getName()" because "rev" is null
        at gitbucket.core.util.JGitUtil$CommitInfo.<init>(JGitUtil.scala:168)
        at gitbucket.core.util.JGitUtil$.getCommitLog$1(JGitUtil.scala:646)
"""


def test_a_nested_classs_constructor_is_named_after_the_nested_class() -> None:
    stack = parse_stacktrace(GITBUCKET)
    assert stack is not None
    assert bare_function(stack.exceptions[0].frames[0], "jvm") == "CommitInfo"
    clr = parse_stacktrace(
        "System.NullReferenceException: Object reference not set to an instance of an object.\n"
        "   at App.Outer+Inner..ctor(String name) in /src/App/Outer.cs:line 12\n"
    )
    assert clr is not None
    assert bare_function(clr.exceptions[0].frames[0], "dotnet") == "Inner"


def test_an_anonymous_or_generated_class_leaves_the_constructor_to_its_named_class() -> None:
    for module, expected in (("com.acme.Outer$1", "Outer"), ("com.acme.Repo$", "Repo"), ("Acme.Cache`1", "Cache"),
                             ("Acme.Picker+<>c__DisplayClass11_5", "Picker")):  # fmt: skip
        frame = Frame(function="<init>", module=module, file="Outer.java", line=3, raw=f"at {module}.<init>")
        assert bare_function(frame) == expected, module
