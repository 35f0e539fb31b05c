"""Declared dependencies and imports agree: nothing declared that the tree never uses, nothing used undeclared.

The declared set is pyproject's ``[project.dependencies]`` (runtime) and its ``dev`` extra (tests, benchmarks).
Imports are read with ``ast`` from every ``.py`` file of the packages, ``tests/``, ``benchmarks/`` and
``scripts/`` (top-level and function-level imports alike; ``importlib.import_module`` strings are not seen), and
mapped to the distributions that provide them with :func:`importlib.metadata.packages_distributions`.

Rules:

- every declared distribution is imported somewhere, or is in :data:`USED_WITHOUT_IMPORT` with the reason;
- every third-party import is declared (a package pulled in by another one is declared all the same once the tree
  imports it itself: it would otherwise vanish with a change of the package that brings it);
- the packages that ship (omr, grading, ...) import runtime dependencies only, never a dev one;
- the README's "Dependencies" section names every declared distribution (it says why each one is there).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

#: Declared distributions nothing imports by name, each with the reason it is there.
USED_WITHOUT_IMPORT = {
    "python-multipart": "FastAPI imports it (as python_multipart) to parse the multipart scan uploads",
}

#: Folders outside the shipped packages whose files import things too (dev dependencies allowed there).
DEV_ROOTS = ("tests", "benchmarks", "scripts")


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name (``SQLAlchemy`` -> ``sqlalchemy``, ``zxing_cpp`` -> ``zxing-cpp``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name at the start of a PEP 508 requirement (``psycopg[binary]>=3.1`` -> ``psycopg``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def declared(pyproject: Mapping) -> tuple[set[str], set[str]]:
    """(runtime, dev) distribution names declared in a parsed pyproject.toml."""
    project = pyproject["project"]
    runtime = {requirement_name(r) for r in project.get("dependencies", [])}
    dev = {requirement_name(r) for r in project.get("optional-dependencies", {}).get("dev", [])}
    return runtime, dev


def shipped_packages(pyproject: Mapping) -> list[str]:
    """Top-level package names setuptools ships (``[tool.setuptools.packages.find] include``, globs stripped)."""
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in include})


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (relative imports are first-party by definition)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def third_party_imports(imports: Mapping[Path, set[str]], first_party: set[str]) -> dict[str, set[Path]]:
    """Each imported top-level name that is neither the standard library nor first-party -> files importing it."""
    found: dict[str, set[Path]] = {}
    for path, names in imports.items():
        for name in names:
            if name not in sys.stdlib_module_names and name not in first_party:
                found.setdefault(name, set()).add(path)
    return found


def undeclared_imports(imports: Iterable[str], allowed: set[str],
                       providers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Imports no allowed distribution provides -> the distributions that do provide them (empty: none installed)."""
    problems: dict[str, list[str]] = {}
    for name in sorted(imports):
        dists = sorted({canonical(d) for d in providers.get(name, [])})
        if not set(dists) & allowed:
            problems[name] = dists
    return problems


def unused_declared(declared_names: set[str], imports: Iterable[str], providers: Mapping[str, list[str]],
                    used_without_import: Mapping[str, str]) -> list[str]:
    """Declared distributions that provide none of ``imports`` and are not excused by ``used_without_import``."""
    provided = {canonical(d) for name in imports for d in providers.get(name, [])}
    return sorted(declared_names - provided - {canonical(d) for d in used_without_import})


# ----------------------------------------------------------------------------------------------------------
# The tree


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def _files(roots: Iterable[str]) -> list[Path]:
    return sorted(p for root in roots for p in (ROOT / root).rglob("*.py") if "__pycache__" not in p.parts)


def _first_party(pyproject: Mapping) -> set[str]:
    # pytest puts tests' folders on sys.path (rootdir conftest): their helper modules import by bare name.
    helpers = {p.stem for root in DEV_ROOTS for p in (ROOT / root).rglob("*.py")}
    return set(shipped_packages(pyproject)) | set(DEV_ROOTS) | helpers


@functools.cache
def _tree() -> tuple[set[str], set[str], dict[str, set[Path]], dict[str, set[Path]]]:
    """(runtime, dev) declared; third-party imports of the shipped packages, and of the whole tree."""
    pyproject = _pyproject()
    runtime, dev = declared(pyproject)
    first_party = _first_party(pyproject)
    packages = shipped_packages(pyproject)
    imports = {path: imported_modules(path.read_text(encoding="utf-8")) for path in _files(packages + list(DEV_ROOTS))}
    shipped = {path: names for path, names in imports.items() if path.relative_to(ROOT).parts[0] in packages}
    return runtime, dev, third_party_imports(shipped, first_party), third_party_imports(imports, first_party)


def _where(files: set[Path]) -> str:
    return ", ".join(str(p.relative_to(ROOT)) for p in sorted(files)[:3])


def test_every_declared_dependency_is_imported_somewhere() -> None:
    runtime, dev, _, everywhere = _tree()
    providers = importlib.metadata.packages_distributions()
    missing = sorted((runtime | dev) - {canonical(d) for dists in providers.values() for d in dists})
    assert not missing, f"declared but not installed (run make install): {missing}"
    unused = unused_declared(runtime | dev, everywhere, providers, USED_WITHOUT_IMPORT)
    assert not unused, (f"declared in pyproject.toml but imported nowhere in the tree: {unused}; remove them, or "
                        "say in USED_WITHOUT_IMPORT why they are needed without an import")


def test_every_third_party_import_is_declared() -> None:
    runtime, dev, _, everywhere = _tree()
    problems = undeclared_imports(everywhere, runtime | dev, importlib.metadata.packages_distributions())
    assert not problems, "imported but not declared in pyproject.toml: " + "; ".join(
        f"{name} (provided by {dists or 'nothing installed'}; in {_where(everywhere[name])})"
        for name, dists in problems.items())


def test_shipped_packages_import_runtime_dependencies_only() -> None:
    runtime, _, shipped, _ = _tree()
    problems = undeclared_imports(shipped, runtime, importlib.metadata.packages_distributions())
    assert not problems, "the shipped packages import what only the dev extra installs: " + "; ".join(
        f"{name} ({dists}; in {_where(shipped[name])})" for name, dists in problems.items())


def test_excuses_name_declared_dependencies() -> None:
    runtime, dev, _, _ = _tree()
    stale = sorted({canonical(d) for d in USED_WITHOUT_IMPORT} - runtime - dev)
    assert not stale, f"USED_WITHOUT_IMPORT excuses dependencies pyproject.toml no longer declares: {stale}"


def test_readme_says_why_each_dependency_is_there() -> None:
    runtime, dev, _, _ = _tree()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    listed = {canonical(name) for name in re.findall(r"^- `([A-Za-z0-9._-]+)", section, flags=re.MULTILINE)}
    assert not (runtime | dev) - listed, f"README's Dependencies section lacks {sorted((runtime | dev) - listed)}"


# ----------------------------------------------------------------------------------------------------------
# The checks themselves catch what they are for


def test_checks_catch_an_unused_declaration_and_an_undeclared_import() -> None:
    providers = {"httpx2": ["httpx2"], "httpx": ["httpx"], "yaml": ["PyYAML"], "PIL": ["pillow"]}
    # httpx2 declared again while nothing imports it: reported.
    assert unused_declared({"httpx", "httpx2", "pillow"}, {"httpx", "PIL"}, providers, {}) == ["httpx2"]
    assert unused_declared({"httpx2"}, set(), providers, {"httpx2": "why"}) == []
    # An import of an installed but undeclared package, and of one nothing provides.
    assert undeclared_imports({"yaml", "PIL", "nowhere"}, {"pillow"}, providers) == {"yaml": ["pyyaml"],
                                                                                    "nowhere": []}


def test_imports_are_found_wherever_they_are_written() -> None:
    source = ("import numpy as np, os.path\nfrom cv2 import imread\nfrom . import sibling\n"
              "def f():\n    import zxingcpp\n    from PIL.Image import open\n")
    assert imported_modules(source) == {"numpy", "os", "cv2", "zxingcpp", "PIL"}
    assert requirement_name("psycopg[binary]>=3.1") == "psycopg"
    assert requirement_name("SQLAlchemy_Utils ; python_version < '4'") == "sqlalchemy-utils"
