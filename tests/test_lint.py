"""The template's own Python (hooks, filters, tests, scripts, benchmarks) is lint- and format-clean.

The baked projects' Python is checked by their own tools in test_install.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import ROOT, describe, run

PATHS = ["benchmarks", "hooks", "local_extensions.py", "scripts", "tests"]


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["ruff check", "ruff format"])
def test_ruff(check: list[str]) -> None:
    ruff = Path(sys.executable).with_name("ruff")  # a test dependency, installed beside pytest
    result = run([str(ruff), *check, *PATHS], cwd=ROOT)
    assert result.returncode == 0, describe(result)
