"""Every third-party package the project imports is declared in pyproject.toml.

A package that only arrives through another one (numpy through pandas,
jinja2 through dbt, pendulum through Airflow) can disappear or change its
major version whenever that other package changes its own requirements; a
declared one is the project's choice and pinned in constraints.txt. The
check reads every Python file of the project with `ast`, takes the top-level
name of each absolute import (function bodies included: much of the code
imports lazily), maps it to the distributions that install it
(`importlib.metadata.packages_distributions`) and wants one of them
declared: `[project] dependencies` for the code that runs in production or
in the benchmark, those and the `dev` dependency group for the tests.
Standard-library modules and the project's own modules are left out.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
REQUIREMENTS = REPO / "requirements.in"
CONSTRAINTS = REPO / "constraints.txt"
# Code that runs in production, in the benchmark or to maintain the GX project.
RUNTIME_DIRS = ("pdpb", "linkage", "dags", "bench", "expectations")
TEST_DIRS = ("tests",)
# The recordlinkage peer runs in its own environment (`make peer`), pinned by
# bench/peer-constraints.txt; it is checked against those pins instead.
PEER_WORKER = REPO / "bench" / "peer_worker.py"
PEER_CONSTRAINTS = REPO / "bench" / "peer-constraints.txt"
# The project's own top-level packages and folders of modules.
OWN_PACKAGES = {"pdpb", "linkage", "bench", "dags", "tests", "expectations"}


@cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def _runtime_requirements() -> set[str]:
    return {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}


def _dev_requirements() -> set[str]:
    group = _pyproject()["dependency-groups"]["dev"]
    return {_requirement_name(r) for r in group if isinstance(r, str)}


def _optional_requirements() -> set[str]:
    extras = _pyproject()["project"].get("optional-dependencies", {})
    return {_requirement_name(r) for reqs in extras.values() for r in reqs}


def _with_metapackages(declared: set[str]) -> set[str]:
    """`declared` plus what its metapackages require: a declared distribution
    that installs no module of its own (apache-airflow, which is
    apache-airflow-core and the task SDK) declares what it brings."""
    providers = {_normalize(d) for ds in _distributions().values() for d in ds}
    out = set(declared)
    for name in declared:
        if name in providers:
            continue
        requires = metadata.distribution(name).requires or []
        out |= {_requirement_name(r) for r in requires if "extra ==" not in r}
    return out


def _imported_modules(path: Path) -> set[str]:
    """The top-level names of the absolute imports anywhere in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _python_files(dirs: tuple[str, ...]) -> list[Path]:
    files = (p for d in dirs for p in (REPO / d).rglob("*.py"))
    return sorted(p for p in files if p != PEER_WORKER)


def _own_modules() -> set[str]:
    """The project's packages, and the modules of its folders that are put on
    sys.path themselves (tests import each other, DAG files are loaded alone)."""
    stems = {p.stem for d in ("tests", "dags") for p in (REPO / d).rglob("*.py")}
    return OWN_PACKAGES | stems


def undeclared(files: list[Path], declared: set[str]) -> dict[str, list[str]]:
    """{third-party module (its distributions): files importing it} for each
    module none of whose distributions is in `declared`."""
    distributions = _distributions()
    own = _own_modules()
    missing: dict[str, list[str]] = {}
    for path in files:
        for module in _imported_modules(path):
            if module in sys.stdlib_module_names or module in own:
                continue
            provided = {_normalize(d) for d in distributions.get(module, [])}
            if provided & declared:
                continue
            label = f"{module} ({', '.join(sorted(provided)) or 'not installed'})"
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            missing.setdefault(label, []).append(str(shown))
    return missing


def _report(missing: dict[str, list[str]], where: str) -> str:
    lines = [f"imported but not declared in pyproject.toml ({where}):"]
    lines += [f"  {module}: {', '.join(files)}" for module, files in sorted(missing.items())]
    return "\n".join(lines)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normalize(name)] = version
    return pins


def test_runtime_code_imports_only_declared_packages():
    declared = _with_metapackages(_runtime_requirements())
    missing = undeclared(_python_files(RUNTIME_DIRS), declared)
    if missing:
        pytest.fail(_report(missing, "[project] dependencies"), pytrace=False)


def test_tests_import_only_declared_packages():
    declared = _with_metapackages(_runtime_requirements() | _dev_requirements())
    missing = undeclared(_python_files(TEST_DIRS), declared)
    if missing:
        pytest.fail(_report(missing, "[project] dependencies or the dev group"), pytrace=False)


def test_the_check_names_a_package_that_only_arrives_through_another(tmp_path):
    # sqlglot comes with Splink and PyYAML with dbt; pandas is declared.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pandas\n\ndef f():\n    from sqlglot import exp\n    import yaml.constructor\n"
    )
    declared = _with_metapackages(_runtime_requirements())
    assert set(undeclared([probe], declared)) == {"sqlglot (sqlglot)", "yaml (pyyaml)"}


def test_every_declared_package_is_in_requirements_in_and_pinned():
    """requirements.in is what `make setup` installs and `make constraints`
    compiles: it lists what pyproject.toml declares, and each is pinned."""
    declared = _runtime_requirements() | _dev_requirements() | _optional_requirements()
    listed = {
        _requirement_name(line)
        for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert declared == listed, (
        f"only in pyproject.toml: {sorted(declared - listed)}; "
        f"only in requirements.in: {sorted(listed - declared)}"
    )
    pins = _pins(CONSTRAINTS)
    assert not declared - set(pins), (
        f"not pinned in constraints.txt: {sorted(declared - set(pins))}"
    )


def test_the_peer_worker_imports_only_its_own_pins():
    distributions = _distributions()
    pins = _pins(PEER_CONSTRAINTS)
    missing = set()
    # bench.common imports only the standard library at module level: the
    # peer's environment runs it (the peer test in test_bench.py does).
    for module in _imported_modules(PEER_WORKER) - set(sys.stdlib_module_names) - {"bench"}:
        names = {_normalize(d) for d in distributions.get(module, [module])}
        if not names & set(pins):
            missing.add(module)
    assert not missing, (
        f"bench/peer_worker.py imports {sorted(missing)}, not in {PEER_CONSTRAINTS.name}"
    )
