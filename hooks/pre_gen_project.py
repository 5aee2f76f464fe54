"""Check every answer before anything is generated.

Each rule is one check with one message. All problems are printed at once, one line each, on
stderr; any problem stops generation with exit status 1. Answers arrive as data (JSON), never as
code.

The same checks also run a step earlier, while cookiecutter renders the answers
(``check_answers`` in local_extensions.py), because cookiecutter creates the project directory
from ``project_slug`` before this hook runs: a slug like ``a/b`` would otherwise leave ``a`` behind.
"""

import sys

# The answers, rendered as JSON by cookiecutter: read as data, never run as code.
ANSWERS = r"""
{{ cookiecutter | tojson }}
"""
# "yes" when these very answers already passed these very checks: check_answers fingerprinted
# them while cookiecutter rendered them, and already_checked (both in local_extensions.py) found the
# same fingerprint, of the same answers and of this file, when cookiecutter rendered this hook. Only
# "yes" or "no" is rendered here, never an answer. Every bake starts this hook as a new Python
# process: this spares it the imports below.
ALREADY_CHECKED = "{{ cookiecutter | already_checked }}" == "yes"

if __name__ == "__main__" and ALREADY_CHECKED:
    sys.exit(0)

import json  # noqa: E402 - after the shortcut above, which needs none of these
import keyword  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable  # noqa: E402

BUILTIN_CONNECTORS = frozenset(
    # pyinfra 3.x's own connectors, plus winrm, which pyinfra 2.x had and pyinfra-winrm provides.
    {
        "local",
        "ssh",
        "docker",
        "podman",
        "chroot",
        "terraform",
        "vagrant",
        "dockerssh",
        "podmanssh",
        "fake",
        "winrm",
    }
)
# Names a generated package must not shadow: pyinfra itself and what the generated code imports.
SHADOWED_PACKAGES = frozenset(
    {
        "pyinfra",
        "pyinfra_cli",
        "gevent",
        "greenlet",
        "click",
        "typing_extensions",
        "pytest",
        "tomli",
        "hatchling",
    }
)
# Names connector.py defines or imports: a class of the same name would replace them.
RESERVED_CLASS_NAMES = frozenset(
    {
        "Any",
        "BaseConnector",
        "Callable",
        "CommandOutput",
        "ConnectError",
        "ConnectorArguments",
        "Final",
        "NAME",
        "ConnectorData",
        "DataMeta",
        "HostEntry",
        "IO",
        "IOBase",
        "InventoryError",
        "Iterable",
        "Iterator",
        "StringCommand",
        "TYPE_CHECKING",
        "TypedDict",
        "Unpack",
    }
)
LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# PEP 440, from its appendix (canonical public versions and their variants).
PEP_440 = re.compile(
    r"""v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?
    (?:[-_.]?dev[-_.]?[0-9]*)?)(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?""",
    re.VERBOSE | re.IGNORECASE,
)


def _stdlib_modules() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", ())  # Python 3.10+
    return frozenset(names) | frozenset(sys.builtin_module_names)


def shown(value: object) -> str:
    """The value, quoted so that spaces, control and look-alike characters are visible."""
    text = str(value)
    return repr(text) if text.isascii() else ascii(text)


def snake(value: str) -> str:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value).lower())
    return "_".join(words).lstrip("0123456789_")


def pascal(value: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", value)).lstrip(
        "0123456789"
    )


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


# Each rule: (field, check, rule text, suggestion). A check returns True when the value is fine.
Rule = tuple[str, Callable[[str], bool], str, Callable[[str], str] | None]

NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
CLASS = re.compile(r"[A-Z][A-Za-z0-9]*")
DISTRIBUTION = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
EMAIL = re.compile(
    r"[^@\s\"'<>(),;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~%!$&()*+,;=:@/-]*)?")
ONE_LINE_FIELDS = ("description", "author_name")

RULES: list[Rule] = [
    (
        "connector_name",
        lambda v: bool(NAME.fullmatch(v)),
        "must be lower-case ASCII letters and digits, words joined by single underscores, starting with a letter "
        "(it becomes @NAME, the entry-point name and the host-data prefix)",
        snake,
    ),
    ("connector_name", lambda v: len(v) <= 32, "must be at most 32 characters", None),
    (
        "connector_name",
        lambda v: v not in BUILTIN_CONNECTORS,
        f"must not be one of pyinfra's own connectors ({', '.join(sorted(BUILTIN_CONNECTORS))})",
        lambda v: f"my_{v}",
    ),
    (
        "package_name",
        lambda v: bool(NAME.fullmatch(v)),
        "must be a lower-case Python identifier: ASCII letters, digits, single underscores, starting with a letter",
        snake,
    ),
    ("package_name", lambda v: len(v) <= 64, "must be at most 64 characters", None),
    (
        "package_name",
        lambda v: not keyword.iskeyword(v) and not keyword.issoftkeyword(v),
        "must not be a Python keyword",
        lambda v: f"pyinfra_{v}",
    ),
    (
        "package_name",
        lambda v: v not in _stdlib_modules(),
        "must not shadow a standard-library module",
        lambda v: f"pyinfra_{v}",
    ),
    (
        "package_name",
        lambda v: v not in SHADOWED_PACKAGES,
        f"must not shadow pyinfra or what connectors import ({', '.join(sorted(SHADOWED_PACKAGES))})",
        lambda v: f"pyinfra_{v}_connector",
    ),
    (
        "project_slug",
        lambda v: bool(DISTRIBUTION.fullmatch(v)),
        "must be a lower-case distribution name: ASCII letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
        slug,
    ),
    ("project_slug", lambda v: len(v) <= 100, "must be at most 100 characters", None),
    (
        "connector_class",
        lambda v: bool(CLASS.fullmatch(v)),
        "must be a class name: ASCII letters and digits, starting with an upper-case letter",
        pascal,
    ),
    ("connector_class", lambda v: len(v) <= 64, "must be at most 64 characters", None),
    (
        "connector_class",
        lambda v: v not in RESERVED_CLASS_NAMES and not keyword.iskeyword(v),
        "must not be a keyword or a name the connector module already uses",
        lambda v: f"{v}Connector",
    ),
    (
        "author_email",
        lambda v: bool(EMAIL.fullmatch(v)) and len(v) <= 254,
        "must be an e-mail address like name@example.com",
        None,
    ),
    (
        "github_owner",
        lambda v: bool(GITHUB_OWNER.fullmatch(v)) and len(v) <= 39,
        "must be a GitHub user or organisation name: ASCII letters, digits and single hyphens, at most 39",
        slug,
    ),
    (
        "repository_url",
        lambda v: bool(URL.fullmatch(v)) and len(v) <= 400,
        "must be an http(s) URL without spaces or quotes",
        None,
    ),
    ("version", lambda v: bool(PEP_440.fullmatch(v)), "must be a PEP 440 version such as 0.1.0", None),
    *[(field, lambda v: bool(v.strip()), "must not be empty", None) for field in ONE_LINE_FIELDS],
    *[
        (
            field,
            lambda v: not LINE_BREAKS.search(v),
            "must be a single line (no line breaks)",
            lambda v: " ".join(LINE_BREAKS.split(v)),
        )
        for field in ONE_LINE_FIELDS
    ],
    *[
        (field, lambda v: not CONTROL.search(v), "must not contain control characters", None)
        for field in ONE_LINE_FIELDS
    ],
    *[(field, lambda v: len(v) <= 500, "must be at most 500 characters", None) for field in ONE_LINE_FIELDS],
]
CHOICES = {
    "connector_kind": ("executing", "inventory"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "MPL-2.0", "GPL-3.0-or-later"),
    "min_python": ("3.10", "3.11", "3.12", "3.13"),
}
FLAGS = ("github_actions", "pre_commit")


def problems(answers: dict[str, object]) -> list[str]:
    """One line for every answer that breaks a rule; the first broken rule of each field only."""
    found: dict[str, str] = {}
    for field, check, rule, suggest in RULES:
        value = answers.get(field)
        if field in found:
            continue
        if not isinstance(value, str):
            found[field] = f"{field} = {shown(value)}: must be text"
            continue
        if check(value):
            continue
        line = f"{field} = {shown(value)}: {rule}"
        suggestion = suggest(value) if suggest else ""
        if (
            suggestion
            and suggestion != value
            and all(check_(suggestion) for field_, check_, _, _ in RULES if field_ == field)
        ):
            line += f" (did you mean {shown(suggestion)}?)"
        found[field] = line
    for field, allowed in CHOICES.items():
        if answers.get(field) not in allowed:
            found[field] = f"{field} = {shown(answers.get(field))}: must be one of {', '.join(allowed)}"
    for field in FLAGS:
        if not isinstance(answers.get(field), bool):
            found[field] = f"{field} = {shown(answers.get(field))}: must be yes or no"
    return list(found.values())


def report(lines: list[str]) -> str:
    """Print the problems to stderr, one line each; return the summary line."""
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return f"{len(lines)} problem(s) found; nothing was generated."


def main() -> int:
    lines = problems(json.loads(ANSWERS))
    if lines:
        print(report(lines), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
