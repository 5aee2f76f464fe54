"""The matrix: which projects the template's tests bake, and which installations they make of them.

Baked: ``MATRIX``
    One row per combination of answers, each with a readable id and the reason it is there. A row
    gives only the answers it changes; the others stay cookiecutter.json's defaults. The first two
    rows are the defaults of each kind, and every choice cookiecutter.json offers appears in at
    least one row (test_bake.py checks this), so a choice nobody bakes cannot slip in.

Installed: ``PYINFRAS``
    Every row is installed with the newest pyinfra on the newest Python; the rows marked ``floor``
    also with the oldest pyinfra the project accepts on the oldest Python it declares. Each
    installation is a virtual environment of its own, the baked project installed into it (not
    editable) with its test (``floor``) or development (``latest``) dependency group.

Each combination is baked once and each installation made once per run, by whichever pytest-xdist
worker asks first; the other workers wait for it and reuse it (conftest.py). The tests that use an
installation are marked ``slow``.

Tests take their parameters from here: ``variant_params`` for the ``baked`` fixture, ``installs``
for the ``installed`` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Variant:
    """One combination of answers that the tests bake."""

    id: str
    answers: dict[str, Any]
    why: str
    floor: bool = False  # also installed with the oldest pyinfra on the oldest Python

    @property
    def kind(self) -> str:
        return str(self.answers["connector_kind"])

    @property
    def pyinfras(self) -> tuple[str, ...]:
        """The installations made of this row (keys of ``PYINFRAS``)."""
        return ("latest", "floor") if self.floor else ("latest",)


MATRIX: tuple[Variant, ...] = (
    Variant(
        "executing",
        {"connector_kind": "executing"},
        "the defaults: what `cookiecutter --no-input .` makes",
        floor=True,
    ),
    Variant(
        "inventory",
        {"connector_kind": "inventory"},
        "the defaults of the other kind",
        floor=True,
    ),
    Variant(
        "executing-named",
        {
            "connector_kind": "executing",
            "connector_name": "acme_cloud",
            "license": "Apache-2.0",
            "min_python": "3.11",
            "github_actions": False,
        },
        "a connector name of its own; no GitHub Actions",
    ),
    Variant(
        "inventory-named",
        {
            "connector_kind": "inventory",
            "connector_name": "net_box",
            "package_name": "netbox_hosts",
            "connector_class": "NetBoxInventory",
            "license": "GPL-3.0-or-later",
            "min_python": "3.12",
            "pre_commit": False,
        },
        "package and class names that do not follow from the connector's name; no pre-commit",
    ),
    Variant(
        "executing-bsd",
        {
            "connector_kind": "executing",
            "connector_name": "k8s_exec",
            "license": "BSD-3-Clause",
            "min_python": "3.13",
            "github_actions": False,
            "pre_commit": False,
        },
        "the newest Python as the oldest one supported; neither GitHub Actions nor pre-commit",
    ),
    Variant(
        "inventory-mpl",
        {
            "connector_kind": "inventory",
            "connector_name": "cmdb",
            "license": "MPL-2.0",
            "min_python": "3.10",
        },
        "the oldest Python the template supports, chosen explicitly",
    ),
    Variant(
        "executing-long",
        {
            "connector_kind": "executing",
            "connector_name": "a_connector_name_of_32_character",
            "package_name": "a_package_name_of_sixty_four_characters_which_is_the_longest_one",
            "connector_class": "AConnectorClassNameOfSixtyFourCharactersWhichIsTheLongestAllowed",
        },
        "the longest names the hooks accept: the baked code must stay lint- and format-clean",
    ),
)

# The answers of each row, by id.
VARIANTS: dict[str, dict[str, Any]] = {variant.id: variant.answers for variant in MATRIX}

# What each installation holds (pyinfra and Python versions: cookiecutter.json's __pyinfra_min,
# __python_max and the row's min_python).
PYINFRAS = {
    "latest": "the newest pyinfra on the newest Python, with the test and lint tools (--group dev)",
    "floor": "the oldest pyinfra the project accepts on the oldest Python it declares, with the test "
    "tools (--group test)",
}


def variant_params(*ids: str) -> list[Any]:
    """Parameters for the ``baked`` fixture: these rows (all by default), each with its id."""
    unknown = set(ids) - set(VARIANTS)
    assert not unknown, f"no such rows: {sorted(unknown)}"
    return [pytest.param(variant.id, id=variant.id) for variant in MATRIX if not ids or variant.id in ids]


def installs(kind: str | None = None) -> list[Any]:
    """Parameters for the ``installed`` fixture: (row id, ``"latest"`` or ``"floor"``) of every
    installation of the rows of this kind (all by default), with ids like ``executing-floor``."""
    return [
        pytest.param((variant.id, pyinfra), id=f"{variant.id}-{pyinfra}")
        for variant in MATRIX
        if kind in (None, variant.kind)
        for pyinfra in variant.pyinfras
    ]
