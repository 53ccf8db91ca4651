"""`time.sleep` blocks the event loop; the package must never call it."""

from __future__ import annotations

import ast
from pathlib import Path

import laptop_agents

PACKAGE = Path(laptop_agents.__file__).parent


def _sleep_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines: list[int] = []
    sleep_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            sleep_aliases |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    for node in ast.walk(tree):
        attribute = (isinstance(node, ast.Attribute) and node.attr == "sleep"
                     and isinstance(node.value, ast.Name) and node.value.id == "time")
        alias = isinstance(node, ast.Name) and node.id in sleep_aliases
        if attribute or alias:
            lines.append(node.lineno)
    return lines


def test_the_scanner_finds_time_sleep(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import time\nfrom time import sleep as nap\ntime.sleep(1)\nnap(2)\n")
    assert _sleep_calls(sample) == [3, 4]


def test_no_time_sleep_in_the_package() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    offenders = {str(p.relative_to(PACKAGE)): lines for p in sources
                 if (lines := _sleep_calls(p))}
    # A plain text search too, for forms the AST walk would miss (e.g. getattr tricks).
    texts = {str(p.relative_to(PACKAGE)) for p in sources
             if "time.sleep(" in p.read_text(encoding="utf-8")}
    assert offenders == {}
    assert texts == set()
