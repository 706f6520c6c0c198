"""Stack frames → repository paths, across languages and deploy layouts; never a path outside the listing."""

from __future__ import annotations

import pytest

from error_autopilot.domain.stack import Frame
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.pathmap import map_frame, map_stack

KOTLIN_REPO = [
    "build.gradle.kts",
    "src/main/kotlin/com/acme/user/UserService.kt",
    "src/main/kotlin/com/acme/user/UserController.kt",
    "src/main/kotlin/com/acme/admin/UserService.kt",
    "src/test/kotlin/com/acme/user/UserServiceTest.kt",
    "legacy/UserService.kt",
]


def mapped(text: str, files: list[str], packages: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    stack = parse_stacktrace(text, packages=packages)
    assert stack is not None, text
    return [(frame.function, path) for frame, path in map_stack(stack, files)]


def test_kotlin_package_and_file_into_source_root() -> None:
    text = (
        "java.lang.NullPointerException\n"
        "\tat com.acme.user.UserService.displayName(UserService.kt:12)\n"
        "\tat com.acme.user.UserController.get(UserController.kt:20)\n"
        "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"
    )
    assert mapped(text, KOTLIN_REPO, ("com.acme.user",)) == [
        ("displayName", "src/main/kotlin/com/acme/user/UserService.kt"),
        ("get", "src/main/kotlin/com/acme/user/UserController.kt"),
    ]


def test_java_inner_class_and_multi_module_layout() -> None:
    files = [
        "orders/src/main/java/com/acme/order/OrderService.java",
        "payments/src/main/java/com/acme/pay/OrderService.java",
    ]
    text = "java.lang.IllegalStateException: x\n\tat com.acme.order.OrderService$Retry.run(OrderService.java:5)"
    assert mapped(text, files, ("com.acme",)) == [("run", "orders/src/main/java/com/acme/order/OrderService.java")]


PY_REPO = ["billing/api.py", "billing/invoice.py", "tests/billing/api.py", "scripts/api.py"]
PY_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.12/site-packages/flask/app.py", line 880, in full_dispatch_request\n'
    "    rv = self.dispatch_request()\n"
    '  File "/app/billing/api.py", line 20, in handle\n'
    "    total = invoice_total(payload)\n"
    '  File "/usr/local/lib/python3.12/site-packages/billing/invoice.py", line 9, in invoice_total\n'
    '    rate = RATES[invoice["currency"]]\n'
    "KeyError: 'currency'"
)


def test_python_app_path() -> None:
    # a configured package wins over the site-packages default: the installed wheel is the service's code
    assert mapped(PY_TRACE, PY_REPO, ("billing",)) == [
        ("invoice_total", "billing/invoice.py"), ("handle", "billing/api.py"),
    ]


@pytest.mark.parametrize(
    "file",
    [
        "/usr/local/lib/python3.12/site-packages/billing/invoice.py",
        "/opt/venv/lib/python3.11/dist-packages/billing/invoice.py",
        "/app/billing/invoice.py",
        "/srv/billing/invoice.py",
        "billing/invoice.py",
    ],
)
def test_python_deploy_and_site_packages_paths(file: str) -> None:
    frame = Frame(function="invoice_total", module="billing.invoice", file=file, line=9, in_app=True)
    assert map_frame(frame, [*PY_REPO, "vendor/other/invoice.py"]) == "billing/invoice.py"


def test_go_module_path() -> None:
    files = ["go.mod", "internal/store/store.go", "internal/cache/store.go", "cmd/cart/main.go"]
    text = (
        "panic: runtime error: invalid memory address or nil pointer dereference\n\n"
        "goroutine 1 [running]:\n"
        "github.com/acme/cart/internal/store.(*Store).Get(0x0, {0x5, 0x3})\n"
        "\t/home/runner/go/pkg/mod/github.com/acme/cart@v1.2.0/internal/store/store.go:42 +0x1d\n"
        "main.main()\n"
        "\t/build/cmd/cart/main.go:17 +0x25\n"
    )
    # the configured module path wins over the module-cache default
    assert mapped(text, files, ("github.com/acme/cart", "main")) == [
        ("(*Store).Get", "internal/store/store.go"), ("main", "cmd/cart/main.go"),
    ]
    frame = Frame(function="(*Store).Get", module="github.com/acme/cart/internal/store", line=42, in_app=True,
                  file="/home/runner/go/pkg/mod/github.com/acme/cart@v1.2.0/internal/store/store.go")  # fmt: skip
    assert map_frame(frame, files) == "internal/store/store.go"


def test_node_dist_path() -> None:
    files = ["package.json", "dist/services/user.js", "dist/routes/users.js", "src/services/user.ts"]
    text = (
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at getUser (/app/dist/services/user.js:14:22)\n"
        "    at Object.handler (/app/dist/routes/users.js:8:10)\n"
        "    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)"
    )
    # the built file and its TypeScript source both match: the fix goes into the source
    assert mapped(text, files) == [("getUser", "src/services/user.ts"), ("Object.handler", "dist/routes/users.js")]


def test_node_dist_without_built_files_maps_to_the_typescript_source() -> None:
    files = ["package.json", "src/services/user.ts", "src/routes/user.ts"]
    text = "TypeError: boom\n    at getUser (/app/dist/services/user.js:14:22)"
    assert mapped(text, files) == [("getUser", "src/services/user.ts")]


def test_dotnet_paths() -> None:
    files = [
        "Acme.Billing.sln",
        "src/Acme.Billing/InvoiceService.cs",
        "src/Acme.Billing/Controllers/InvoiceController.cs",
        "tests/Acme.Billing.Tests/InvoiceService.cs",
    ]
    text = (
        "System.NullReferenceException: Object reference not set to an instance of an object.\n"
        "   at Acme.Billing.InvoiceService.Total(Invoice invoice) in /src/Acme.Billing/InvoiceService.cs:line 27\n"
        "   at Acme.Billing.Controllers.InvoiceController.Get(Int32 id) in "
        "/src/Acme.Billing/Controllers/InvoiceController.cs:line 15"
    )
    assert mapped(text, files, ("Acme.Billing",)) == [
        ("Total", "src/Acme.Billing/InvoiceService.cs"),
        ("Get", "src/Acme.Billing/Controllers/InvoiceController.cs"),
    ]


@pytest.mark.parametrize(
    "file",
    ["../billing/api.py", "/app/../../etc/api.py", "billing/../../api.py", "..\\..\\billing\\api.py"],
)
def test_dot_dot_in_a_frame_path_is_none(file: str) -> None:
    assert map_frame(Frame(function="f", file=file, line=1, in_app=True), PY_REPO) is None


HOSTILE = [
    "/etc/passwd", "C:\\Windows\\System32\\api.py", "/proc/self/environ", "", "api.py\x00.txt",
    "/app/billing/api.py/../../../../root/.ssh/id_rsa", "~/api.py", "file:///app/billing/api.py", "api.py",
    "//server/share/invoice.py", "billing/api.py ", "/" * 1000 + "api.py",
]  # fmt: skip


@pytest.mark.parametrize("file", HOSTILE)
@pytest.mark.parametrize("module", [None, "billing.api", "com.evil.Api"])
def test_never_a_path_outside_the_listing(file: str, module: str | None) -> None:
    result = map_frame(Frame(function="f", module=module, file=file, line=1, in_app=True), PY_REPO)
    assert result is None or result in PY_REPO


def test_a_frame_whose_file_is_not_in_the_repo_is_none() -> None:
    assert map_frame(Frame(function="f", file="/app/other/thing.py", in_app=True), PY_REPO) is None
    assert map_frame(Frame(function="f", file=None, in_app=True), PY_REPO) is None
