"""The codebase stays readable in an afternoon: small modules, short functions.

No module in laptop_agents/ is over 400 lines; no function is over 60 lines unless its body is
table-like and reads better whole, which a `# table-like:` comment on the line after its
signature says (and why).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "laptop_agents"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines_unless_it_says_why() -> None:
    long: dict[str, int] = {}
    for path in modules():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            first_body = node.body[0].lineno - 1
            header = lines[node.lineno - 1:first_body + 1]
            explained = any("# table-like:" in line for line in header)
            if length > MAX_FUNCTION_LINES and not explained:
                long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = length
    assert long == {}
