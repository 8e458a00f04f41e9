"""Who may import whom: the shared skin-care vocabulary depends on nothing of ours, and the
AI providers do not reach into the plans app (plans build on ai, not the other way).

Read from the source with ``ast``, so an import inside a function counts as much as one
at the top of a module.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Our own top-level packages: every directory of the repository that is a package.
OURS = frozenset(path.parent.name for path in ROOT.glob("*/__init__.py"))


def modules_of(package: str) -> list[Path]:
    """The package's modules, tests left out (a test may arrange with anything)."""
    return [
        path
        for path in sorted((ROOT / package).rglob("*.py"))
        if "tests" not in path.relative_to(ROOT).parts
    ]


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every absolute import in a module."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def test_the_repository_packages_are_found():
    assert {"ai", "plans", "chat", "scans", "skincare"} <= OURS


@pytest.mark.parametrize("path", modules_of("skincare"), ids=lambda path: path.name)
def test_the_skincare_vocabulary_imports_nothing_of_ours(path):
    assert imported_packages(path) & OURS <= {"skincare"}


@pytest.mark.parametrize(
    "path", modules_of("ai"), ids=lambda path: str(path.relative_to(ROOT / "ai"))
)
def test_the_ai_providers_import_nothing_from_plans(path):
    assert "plans" not in imported_packages(path)


def test_a_lazy_import_inside_a_function_is_seen(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from plans import rules\n    import chat.views\n")

    assert imported_packages(module) == {"plans", "chat"}
