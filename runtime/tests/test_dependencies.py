"""Every module of the runtime imports, and every third-party distribution it imports (at the top or
inside a function, read with ast) is declared in pyproject.toml, and pinned in requirements.txt."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[1]
SRC = RUNTIME / "src"
FIRST_PARTY = {"mlflow_platform", "mlflow_platform_guard", "mlflow_platform_access"}
#: Pinned by configuration (mlflow.version), not by requirements.txt: the tools install mlflow, the
#: images mlflow-skinny, both providing the ``mlflow`` package.
PINNED_BY_CONFIG = {"mlflow-skinny"}
#: Modules that run only inside the official MLflow image (shipped in the tracking guard's ConfigMap, never
#: installed with the package): what they import beyond the package's dependencies is what that image's
#: MLflow server brings (Flask and Werkzeug, under MLflow's auth app), checked against the distributions
#: the full ``mlflow`` requires.
IN_MLFLOW_IMAGE = {"mlflow_platform_access.py": {"flask": "mlflow", "werkzeug": "flask"}}  # import -> brought by
#: A distribution that stands for another (the full ``mlflow`` is mlflow-skinny plus the server).
SAME_AS = {"mlflow": "mlflow-skinny"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def modules() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def declared() -> set[str]:
    project = tomllib.loads((RUNTIME / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"]) + [d for ds in project.get("optional-dependencies", {}).values() for d in ds]
    return {normalize(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in deps}


def pinned() -> dict[str, str]:
    out = {}
    for line in (RUNTIME / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[normalize(name)] = version
    return out


@pytest.mark.parametrize("module", modules())
def test_every_module_imports(module):
    importlib.import_module(module)


def test_every_third_party_import_is_a_declared_dependency():
    third_party = set()
    for path in SRC.rglob("*.py"):
        names = {n for n in imported_names(path) if n not in sys.stdlib_module_names and n not in FIRST_PARTY}
        third_party |= names - set(IN_MLFLOW_IMAGE.get(path.name, {}))
    assert third_party, "no third-party import found: the scan is broken"
    dists = packages_distributions()
    want, missing = declared(), {}
    for name in sorted(third_party):
        provided_by = {SAME_AS.get(normalize(d), normalize(d)) for d in dists.get(name, [])}
        assert provided_by, f"{name} is imported but not installed here"
        if not provided_by & want:
            missing[name] = sorted(provided_by)
    assert not missing, f"imported but not declared in runtime/pyproject.toml: {missing}"


def test_what_the_mlflow_image_modules_import_comes_with_mlflow():
    from importlib.metadata import requires

    for file, names in IN_MLFLOW_IMAGE.items():
        assert set(names) <= imported_names(SRC / file), f"{file}: the exemption lists what it does not import"
        for name, parent in names.items():
            brought = {normalize(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requires(parent) or []}
            assert normalize(name) in brought, f"{file}: {name} is not a requirement of {parent}"


def test_every_declared_dependency_is_pinned_and_every_pin_declared():
    project = tomllib.loads((RUNTIME / "pyproject.toml").read_text())["project"]
    required = {normalize(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    pins = pinned()
    assert sorted(required - PINNED_BY_CONFIG - set(pins)) == [], "declared but not pinned in requirements.txt"
    assert sorted(set(pins) - declared()) == [], "pinned in requirements.txt but not declared in pyproject.toml"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    import numpy as np\n    from starlette.routing import Route\n")
    assert imported_names(f) == {"os", "numpy", "starlette"}
