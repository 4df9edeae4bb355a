"""The import contracts of pyproject.toml ([tool.importlinter]): the tree keeps them, and each one
catches the import it forbids (a copy of the tree with one such import added fails ``lint-imports``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("educonnect_bridge", "federation", "idp", "sp_ent", "aten_adapter")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = {
    "layers": "educonnect_bridge composes the three apps; they share federation and ignore each other",
    "domain-libraries": "Domain code does no I/O: no web, SAML, JOSE, SQL, Redis, LDAP or XML library",
    "domain-bottom": "Inside each app the domain is the bottom: it imports no storage, directory, "
    "protocol adapter or view",
}


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's pyproject.toml, on the packages found in ``tree``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=tree,  # lint-imports puts its working directory first on sys.path
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def one_line(output: str) -> str:
    return " ".join(output.split())  # lint-imports wraps long contract names at 80 columns


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    output = one_line(result.stdout)
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in output
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in output


@pytest.mark.parametrize(
    ("package", "statement", "broken", "reported"),
    [
        # The shared bottom layer reaching up to an app (federation/cli.py did, before issue 12).
        ("federation", "import idp", ("layers",), "federation is not allowed to import idp"),
        # One app importing another (idp/oidc/cli.py imported sp_ent.oidc_rp, before issue 12).
        ("idp", "import sp_ent", ("layers",), "idp is not allowed to import sp_ent"),
        ("sp_ent", "import aten_adapter", ("layers",), "sp_ent is not allowed to import aten_adapter"),
        # Anything below importing the command line that composes it.
        ("aten_adapter", "import educonnect_bridge.cli", ("layers",), "aten_adapter is not allowed"),
        # A domain module importing an I/O library, directly or through a shared module.
        ("idp.domain", "import flask", ("domain-libraries",), "idp.domain is not allowed to import flask"),
        (
            "aten_adapter.domain",
            "import federation.database",
            ("domain-libraries",),
            "aten_adapter.domain is not allowed to import sqlalchemy",
        ),
        # A domain module importing its own app's storage (the package, which imports no library).
        (
            "idp.domain",
            "import idp.storage",
            ("domain-bottom",),
            "idp.domain is not allowed to import idp.storage",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, package: str, statement: str, broken: tuple[str, ...], reported: str
) -> None:
    for top in PACKAGES:
        shutil.copytree(ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    violation = f"{package}.contract_violation"
    (tmp_path / f"{violation.replace('.', '/')}.py").write_text(f"{statement}  # the violation under test\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    output = one_line(result.stdout)
    for contract in broken:
        assert f"{CONTRACTS[contract]} BROKEN" in output
    assert f"Contracts: {len(CONTRACTS) - len(broken)} kept, {len(broken)} broken." in output
    assert reported in output
    assert f"- {violation} -> " in output  # the copy with the violation was analysed, not ROOT
