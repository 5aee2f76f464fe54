"""Check every answer before anything is generated: the rules, and the hook that applies them.

Each rule is one check with one message. All problems are printed at once, one line each, on
stderr; any problem stops generation with exit status 1. Answers arrive as data (JSON), never as
code.

The same rules are asked earlier too, by local_extensions.py: right after a person types each
answer (``checked_answer``), once cookiecutter has every answer (``checked_answers``), and right
before it makes the project directory, which it does before running this hook (``checked``,
called from the template folder's name).
"""

import json
import re
import sys
from collections.abc import Callable

# The answers, rendered as JSON by cookiecutter: read as data, never run as code.
ANSWERS = r"""
{{ cookiecutter | tojson }}
"""

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
        "ExecConnector",
        "HostEntry",
        "IO",
        "IOBase",
        "InventoryError",
        "Iterable",
        "Iterator",
        "NotTextError",
        "StringCommand",
        "TYPE_CHECKING",
        "TypedDict",
        "Unpack",
    }
)
# The rules are the same whichever Python runs cookiecutter: keywords, soft keywords and
# standard-library modules are written out here, for every Python a baked package supports
# (3.10 to __python_max in cookiecutter.json; test_hooks.py compares them with each installed
# Python's own, and with tests/python_names.json for every one).
KEYWORDS = frozenset(
    """False None True and as assert async await break class continue def del elif else except
    finally for from global if import in is lambda nonlocal not or pass raise return try while with
    yield""".split()  # noqa: SIM905 - a few lines of names rather than one a line
)
SOFT_KEYWORDS = frozenset({"_", "case", "match", "type"})
# sys.stdlib_module_names of Python 3.10 to 3.14 together, the names a package name could take
# (lower case, starting with a letter): tomllib is new in 3.11, 3.13 removed distutils, imp, ...,
# and 3.14 added annotationlib and compression.
STDLIB_MODULES = frozenset(
    """
    abc aifc annotationlib antigravity argparse array ast asynchat asyncio asyncore atexit audioop
    base64 bdb binascii binhex bisect builtins bz2 calendar cgi cgitb chunk cmath cmd code codecs
    codeop collections colorsys compileall compression concurrent configparser contextlib
    contextvars copy copyreg crypt csv ctypes curses dataclasses datetime dbm decimal difflib dis
    distutils doctest email encodings ensurepip enum errno faulthandler fcntl filecmp fileinput
    fnmatch fractions ftplib functools gc genericpath getopt getpass gettext glob graphlib grp gzip
    hashlib heapq hmac html http idlelib imaplib imghdr imp importlib inspect io ipaddress itertools
    json keyword lib2to3 linecache locale logging lzma mailbox mailcap marshal math mimetypes mmap
    modulefinder msilib msvcrt multiprocessing netrc nis nntplib nt ntpath nturl2path numbers opcode
    operator optparse os ossaudiodev pathlib pdb pickle pickletools pipes pkgutil platform plistlib
    poplib posix posixpath pprint profile pstats pty pwd py_compile pyclbr pydoc pydoc_data pyexpat
    queue quopri random re readline reprlib resource rlcompleter runpy sched secrets select
    selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket socketserver spwd sqlite3
    sre_compile sre_constants sre_parse ssl stat statistics string stringprep struct subprocess
    sunau symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap this
    threading time timeit tkinter token tokenize tomllib trace traceback tracemalloc tty turtle
    turtledemo types typing unicodedata unittest urllib uu uuid venv warnings wave weakref
    webbrowser winreg winsound wsgiref xdrlib xml xmlrpc xxsubtype zipapp zipfile zipimport zlib
    zoneinfo
    """.split()  # noqa: SIM905
)
LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# C0 and C1 control characters, and DEL; tab is allowed.
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Lone surrogates, which no UTF-8 file can hold. Python reads byte 0xNN that is not UTF-8 as U+DCNN
# (os.fsdecode; the "surrogateescape" error handler), on its command line and, in the C locale for
# one, from a terminal; a \uD800 to \uDFFF escape in JSON or YAML gives one too.
SURROGATE = re.compile("[\ud800-\udfff]")
UTF_8 = (
    "must be UTF-8 text (each \\udcNN is a byte 0xNN that is not UTF-8, as a terminal or file in another "
    "encoding such as Latin-1 gives; no other \\ud800-\\udfff may stand alone)"
)
# PEP 440, from its appendix (canonical public versions and their variants).
PEP_440 = re.compile(
    r"""v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?
    (?:[-_.]?dev[-_.]?[0-9]*)?)(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?""",
    re.VERBOSE | re.IGNORECASE,
)


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
# A host name: dot-separated labels of ASCII letters, digits and hyphens, each 1 to 63 long and
# neither starting nor ending with a hyphen.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = rf"{LABEL}(?:\.{LABEL})+"
# RFC 5322's dot-atom in ASCII, the form email.headerregistry.Address (which hatchling writes the
# package metadata with) accepts and writes back unchanged; test_hooks.py checks that it does.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL = re.compile(rf"(?P<local>{ATOM}(?:\.{ATOM})*)@{DOMAIN}")
GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
# Path characters of RFC 3986 but quotes, and percent escapes of two hex digits.
# (Not an f-string: cookiecutter renders this file with Jinja, which reads doubled braces.)
URL = re.compile(
    r"https?://(?:localhost|" + DOMAIN + r")(?::(?P<port>[0-9]{1,5}))?"
    r"(?:/(?:[A-Za-z0-9._~!$&()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?"
)
ONE_LINE_FIELDS = ("description", "author_name")


def _email_ok(value: str) -> bool:
    match = EMAIL.fullmatch(value)
    return bool(match) and len(match["local"]) <= 64 and len(value) <= 254


def _url_ok(value: str) -> bool:
    match = URL.fullmatch(value)
    return bool(match) and 0 < int(match["port"] or 80) <= 65535 and len(value) <= 400


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
        lambda v: v not in KEYWORDS and v not in SOFT_KEYWORDS,
        "must not be a Python keyword or soft keyword",
        lambda v: f"pyinfra_{v}",
    ),
    (
        "package_name",
        lambda v: v not in STDLIB_MODULES,
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
        lambda v: v not in RESERVED_CLASS_NAMES and v not in KEYWORDS,
        "must not be a keyword or a name the connector module already uses",
        lambda v: f"{v}Connector",
    ),
    (
        "author_email",
        _email_ok,
        "must be an e-mail address like name@example.com: ASCII letters, digits and !#$%&'*+/=?^_`{|}~- "
        "before the @, dots only between them, at most 64; a dotted domain of letters, digits and hyphens",
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
        _url_ok,
        "must be an http(s) URL of a real host (dotted names of letters, digits and hyphens, or localhost; "
        "an optional port) and a path without spaces, quotes or stray '%'",
        None,
    ),
    ("version", lambda v: bool(PEP_440.fullmatch(v)), "must be a PEP 440 version such as 0.1.0", None),
    # The other fields are ASCII by their own rules, which refuse such bytes as well.
    *[(field, lambda v: not SURROGATE.search(v), UTF_8, None) for field in ONE_LINE_FIELDS],
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
    "min_python": ("3.10", "3.11", "3.12", "3.13", "3.14"),
}
FLAGS = ("github_actions", "pre_commit")


def problem(field: str, value: object) -> str | None:
    """The first rule of ``field`` that ``value`` breaks, as a line with a suggestion if one passes;
    None when the answer passes."""
    if field in CHOICES:
        allowed = CHOICES[field]
        return None if value in allowed else f"{field} = {shown(value)}: must be one of {', '.join(allowed)}"
    if field in FLAGS:
        return None if isinstance(value, bool) else f"{field} = {shown(value)}: must be yes or no"
    if not isinstance(value, str):
        return f"{field} = {shown(value)}: must be text"
    for field_, check, rule, _ in RULES:
        if field_ == field and not check(value):
            line = f"{field} = {shown(value)}: {rule}"
            better = suggestion(field, value)
            return f"{line} (did you mean {shown(better)}?)" if better else line
    return None


def suggestion(field: str, value: str) -> str:
    """A value close to ``value`` that passes every rule of ``field``, or "" if there is none."""
    for field_, check, _, suggest in RULES:
        if field_ == field and not check(value) and suggest:
            better = suggest(value)
            if better != value and all(check_(better) for name, check_, _, _ in RULES if name == field):
                return better
            return ""
    return ""


FIELDS = tuple(dict.fromkeys([field for field, *_ in RULES] + [*CHOICES, *FLAGS]))


def problems(answers: dict[str, object]) -> dict[str, str]:
    """Each answer that breaks a rule, and its line: the first broken rule of each field only.

    A key the template does not ask, which a replay can carry, is recorded in .cruft.json all the
    same: it must be UTF-8 text too.
    """
    found = {field: problem(field, answers.get(field)) for field in FIELDS}
    for key, value in answers.items():
        recorded = json.dumps({key: value}, ensure_ascii=False, default=str)
        if key not in FIELDS and not key.startswith("_") and SURROGATE.search(recorded):
            found[key] = f"{ascii(key)[1:-1]} = {shown(value)}: {UTF_8}"
    return {field: line for field, line in found.items() if line}


def report(found: dict[str, str], derived: dict[str, str] | None = None) -> str:
    """Print the problems to stderr, one line each; return the summary line.

    ``derived`` maps a field to the refused answer its value was computed from: that value is not a
    mistake of its own, so it follows as a note, not as an error.
    """
    derived = derived or {}
    for field, line in found.items():
        if field not in derived:
            print(f"error: {line}", file=sys.stderr)
    for field, source in derived.items():
        print(
            f"note: {found[field].split(': ', 1)[0]} is computed from {source} and follows once it is fixed",
            file=sys.stderr,
        )
    return f"{len(found) - len(derived)} problem(s) found; nothing was generated."


def main() -> int:
    found = problems(json.loads(ANSWERS))
    if found:
        print(report(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
