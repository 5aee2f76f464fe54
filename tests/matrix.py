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

Refused: ``BAD_VALUES``
    For every rule of the answers (hooks/pre_gen_project.py), at least one value it refuses, with
    the words its message says (test_hooks.py refuses each through a real bake).

Accepted: ``GOOD_VALUES`` and ``FREE_TEXT``
    Unusual values the rules accept, and hostile free text (quotes, backslashes, Jinja, shell,
    Markdown, right-to-left text, emoji, ...) that every file must embed without breaking
    (test_hostile.py bakes them and builds the packages).

Tests take their parameters from here: ``variant_params`` for the ``baked`` fixture, ``installs``
for the ``installed`` fixture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from support import ON_GITHUB, PYTHON_MAX, installed_python


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
            "min_python": "3.14",
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
            "min_python": "3.13",
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
    installation of the rows of this kind (all by default), with ids like ``executing-floor``.

    A row needs a Python at least as new as its ``min_python``. Where none is installed (3.14 on
    machines that cannot install it yet) its installations are not made, and ``NOT_INSTALLED``
    says which; on GitHub's runners, which set up every Python offered, all are made.
    """
    return [
        pytest.param((variant.id, pyinfra), id=f"{variant.id}-{pyinfra}")
        for variant in MATRIX
        if kind in (None, variant.kind) and variant.id not in NOT_INSTALLED
        for pyinfra in variant.pyinfras
    ]


def _installable(variant: Variant) -> bool:
    oldest = int(str(variant.answers.get("min_python", "3.10")).split(".")[1])
    newest = int(PYTHON_MAX.split(".")[1])
    return ON_GITHUB or any(installed_python(f"3.{minor}") for minor in range(oldest, newest + 1))


# Rows whose installations cannot be made on this machine: no Python new enough is installed.
NOT_INSTALLED = frozenset(variant.id for variant in MATRIX if not _installable(variant))


# (field, bad value, text the rule's message contains). At least one row for every rule.
BAD_VALUES: list[tuple[str, str, str]] = [
    ("connector_name", "", "must be lower-case ASCII letters"),
    ("connector_name", "Acme", "must be lower-case ASCII letters"),
    ("connector_name", "1acme", "must be lower-case ASCII letters"),
    ("connector_name", "acme-cloud", "must be lower-case ASCII letters"),
    ("connector_name", "acme/x", "must be lower-case ASCII letters"),
    ("connector_name", "a" * 33, "at most 32 characters"),
    ("connector_name", "docker", "pyinfra's own connectors"),
    ("connector_name", "local", "pyinfra's own connectors"),
    ("connector_name", "@acme", "must be lower-case ASCII letters"),
    ("connector_name", "acme=x", "must be lower-case ASCII letters"),
    ("connector_name", "\u0430cme", "must be lower-case ASCII letters"),  # a Cyrillic look-alike of "a"
    ("package_name", "Pyinfra_Acme", "lower-case Python identifier"),
    ("package_name", "pyinfra-acme", "lower-case Python identifier"),
    ("package_name", "a" * 65, "at most 64 characters"),
    ("package_name", "pyinfra.acme", "lower-case Python identifier"),
    ("package_name", "match", "Python keyword"),
    ("package_name", "import", "Python keyword"),
    ("package_name", "type", "Python keyword"),  # a soft keyword from Python 3.12 on
    ("package_name", "json", "standard-library module"),
    ("package_name", "os", "standard-library module"),
    ("package_name", "tomllib", "standard-library module"),  # from Python 3.11 on
    ("package_name", "distutils", "standard-library module"),  # until Python 3.11
    ("package_name", "pyinfra", "must not shadow pyinfra"),
    ("package_name", "pyinfra_cli", "must not shadow pyinfra"),
    ("project_slug", "../escape", "distribution name"),
    ("project_slug", "Pyinfra-Acme", "distribution name"),
    ("project_slug", "-acme", "distribution name"),
    ("project_slug", "pyinfra,acme", "distribution name"),
    ("project_slug", " pyinfra-acme", "distribution name"),
    ("project_slug", "p" * 101, "at most 100 characters"),
    ("connector_class", "acmeConnector", "class name"),
    ("connector_class", "Acme-Connector", "class name"),
    ("connector_class", "A" * 65, "at most 64 characters"),
    ("connector_class", "BaseConnector", "already uses"),
    ("connector_class", "InventoryError", "already uses"),
    ("author_email", "not-an-address", "e-mail address"),
    ("author_email", "two@@example.com", "e-mail address"),
    ("author_email", " ada@example.com", "e-mail address"),
    # Each of these makes hatchling refuse to build the package.
    ("author_email", "\u00fc@example.com", "e-mail address"),
    ("author_email", "a\x01b@example.com", "e-mail address"),
    ("author_email", ".a@example.com", "e-mail address"),
    ("author_email", "a.@example.com", "e-mail address"),
    ("author_email", "a..b@example.com", "e-mail address"),
    ("author_email", "ada@example..com", "e-mail address"),
    ("author_email", "ada@-example.com", "e-mail address"),
    ("author_email", "ada@localhost", "e-mail address"),
    ("author_email", "a" * 65 + "@example.com", "e-mail address"),
    ("github_owner", "-leading", "GitHub user or organisation"),
    ("github_owner", "under_score", "GitHub user or organisation"),
    ("github_owner", "acme=corp", "GitHub user or organisation"),
    ("repository_url", "ftp://example.com/x", "http(s) URL"),
    ("repository_url", "https://example.com/a b", "http(s) URL"),
    ("repository_url", "https://-", "http(s) URL"),
    ("repository_url", "https://...", "http(s) URL"),
    ("repository_url", "https://-example.com/x", "http(s) URL"),
    ("repository_url", "https://example-.com/x", "http(s) URL"),
    ("repository_url", "https://example/x", "http(s) URL"),
    ("repository_url", "https://example.com:99999/x", "http(s) URL"),
    ("repository_url", "https://example.com/%zz", "http(s) URL"),
    ("repository_url", "https://example.com/a'b", "http(s) URL"),
    ("version", "one", "PEP 440"),
    ("version", "1.0-final-final", "PEP 440"),
    ("description", "   ", "must not be empty"),
    ("description", "two\nlines", "single line"),
    ("description", "bell\x07", "control characters"),
    ("description", "c1 \x9b31m", "control characters"),  # C1: a terminal's CSI
    ("description", "d" * 501, "at most 500 characters"),
    ("author_name", "", "must not be empty"),
    ("author_name", "line\u2028break", "single line"),
    ("author_name", "nul\x00", "control characters"),
    ("author_name", "\x80padding", "control characters"),
    ("author_name", "n" * 501, "at most 500 characters"),
    # Bytes that are not UTF-8, as Python reads them (a terminal or file in Latin-1), and a lone
    # surrogate, as a \uD800 escape in JSON or YAML gives: no UTF-8 file can hold either.
    ("author_name", os.fsdecode(b"Ren\xe9"), "must be UTF-8 text"),
    ("description", os.fsdecode(b"\x9b31m"), "must be UTF-8 text"),
    ("description", "lone \ud800 surrogate", "must be UTF-8 text"),
    ("connector_name", os.fsdecode(b"caf\xe9"), "must be lower-case ASCII letters"),
    ("author_email", os.fsdecode(b"ren\xe9@example.com"), "e-mail address"),
]


# Unusual answers the rules accept (test_hostile.py bakes and builds packages with them).
GOOD_VALUES: list[tuple[str, str]] = [
    ("author_email", "first.last+tag@sub.example.co.uk"),
    ("author_email", "a!#$%&'*+/=?^_`{|}~-b@example.com"),
    ("author_email", "1@2.io"),
    ("author_email", "a" * 64 + "@example.com"),
    ("repository_url", "http://localhost:8080/group/repo"),
    ("repository_url", "https://git.example.com/a_(b)/c&d;e=f"),
    ("repository_url", "https://example.com/%7Euser/repo.git"),
    ("repository_url", "https://192.0.2.1:8443/x/"),
    ("repository_url", "https://xn--bcher-kva.example"),
    ("github_owner", "a"),
    ("github_owner", "Acme-Corp-2"),
    ("package_name", "typing2"),
    ("package_name", "pyinfra_type"),
]


# Free text the template must accept and embed without breaking any file.
FREE_TEXT = [
    "it's 'single' quoted",
    'a "double" quoted "word"',
    "back\\slash, \\\\ two, and a trailing \\",
    "C:\\Users\\ada\\new\\table",
    "{{ cookiecutter.connector_name }}",
    "{{ 7 * 7 }} and {{",
    "{% if true %}yes{% endif %} and {%",
    "{# a Jinja comment #}",
    "{% raw %}{{ raw }}{% endraw %}",
    "$(touch /tmp/pwned) and ${HOME} and $HOME",
    "`id` and backticks",
    "\"\"\"triple\"\"\" and '''single triple'''",
    "ünïcødé, 漢字 and Ελληνικά",
    "right-to-left: עברית مرحبا \u202eoverride\u202c",
    "emoji 🚀✨ and a flag 🇺🇦 and 👩‍💻",
    "zero\u200bwidth and non\u00a0breaking",
    "tab\tinside and\tagain",
    "  leading and trailing spaces  ",
    "# not a comment; [not.a.table] key = 'value'",
    "- yaml: {flow: mapping} &anchor *alias ---",
    "<script>alert('x')</script> & <b>html</b>",
    "%s %(name)s {0} {name} format strings",
    'O\'Brien, Jane "JJ" <jane@example.com>',
    "semi;colon | pipe > redirect < input & background",
    "x" * 500,
]
