"""The layers read from the tree: each package imports only the layers below it.

Lower layers never know higher ones (as `django.db` never imports
`django.contrib`), packages on one layer are independent of each other, and a
function-local import is not a way around either: one is allowed only with a
comment on its line saying why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS: list[set[str]] = [
    {"api"},  # the API's errors and answer shapes
    {"telemetry"},  # request ids, logs, metrics, error reports
    {"sms", "ai"},  # SMS: segments, phones, keywords, providers; AI providers
    {"tenants"},  # the registry and the tenancy machinery
    {"accounts"},  # people: users, memberships, tokens, MFA, staff
    {"church"},  # the church's registry records: its numbers
    {"branches"},
    {"stats"},  # the daily statistics members and messaging keep current
    {"members"},
    {"templates_app"},
    {"messaging"},
    # plans, subscriptions, invoices: reads messaging's meter; and a member's
    # or a church's data exported or erased
    {"billing", "privacy"},
    # backups and restores (a restore re-applies erasures); the staff's
    # dashboard (onboarding, statistics: reads billing); Planning Center's
    # people synced into members
    {"backups", "dashboard", "integrations"},
    {"config"},  # settings and wiring
]
LEVEL = {package: level for level, layer in enumerate(LAYERS) for package in layer}


def _modules():
    for package in sorted(LEVEL):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:  # history, frozen as written
                yield package, path


def _imports(tree: ast.AST):
    """(imported top-level package, node, whether inside a function)."""
    inner = {
        id(node)
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(func)
    }
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LEVEL and id(node) not in typing_only:
                yield top, node, id(node) in inner


def test_every_project_package_has_a_layer():
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    assert packages == set(LEVEL)


@pytest.mark.parametrize(("package", "path"), list(_modules()), ids=str)
def test_imports_go_down_the_layers(package, path):
    source = path.read_text()
    lines = source.splitlines()
    wrong = []
    for imported, node, local in _imports(ast.parse(source)):
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if imported != package and LEVEL[imported] >= LEVEL[package]:
            wrong.append(f"{where} imports {imported} (not below {package})")
        if local and "#" not in lines[node.lineno - 1]:
            wrong.append(f"{where} imports {imported} inside a function, unexplained")
    assert not wrong, "\n".join(wrong)
