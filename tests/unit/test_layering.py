"""Import rules that import-linter cannot express (it can only forbid): what a module may import.

- The domain imports only the standard library and pydantic.
- The log's crypto kernels (``ledger.merkle``, ``ledger.tiles``, ``ledger.note``) import only the
  standard library and the ledger's error root (``ledger.errors``, itself standard-library only);
  ``ledger.note`` also needs ``cryptography`` for Ed25519. Nothing else of the ledger reaches them,
  so they stay small enough to audit, as sigstore's ``merkle.py`` is.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "domain"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
KERNELS = {
    "ledger/errors.py": set(),
    "ledger/merkle.py": {"ledger.errors"},
    "ledger/tiles.py": {"ledger.errors", "ledger.merkle"},
    "ledger/note.py": {"ledger.errors", "cryptography"},
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative imports are not used here"
            if node.module:
                names.append(node.module)
    return names


def test_domain_modules_import_only_the_standard_library_and_pydantic() -> None:
    allowed = STDLIB | {"pydantic", "domain"}
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        offenders += [f"{path.name}: {n}" for n in _imports(path) if n.split(".")[0] not in allowed]
    assert offenders == []
    assert len(list(DOMAIN.rglob("*.py"))) >= 7


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_the_logs_crypto_kernels_import_only_the_standard_library(kernel: str) -> None:
    extra = KERNELS[kernel]

    def allowed(name: str) -> bool:
        return name.split(".")[0] in STDLIB or any(
            name == e or name.startswith(f"{e}.") for e in extra
        )

    assert [n for n in _imports(ROOT / kernel) if not allowed(n)] == []
