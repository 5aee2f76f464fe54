"""Jinja extensions of the template: answers checked as they are typed and before anything is
written, free text embedded safely, and a record of how a project was made.

cookiecutter loads this module through ``_extensions`` in ``cookiecutter.json``. The rules
themselves live in ``hooks/pre_gen_project.py``; everything here asks them. One process may render
several versions of the template from the same folder (``cruft update`` renders the old and the new
one), so nothing read from the template's files is kept beyond the content it was read from.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from cookiecutter.config import BUILTIN_ABBREVIATIONS, get_user_config
from cookiecutter.exceptions import FailedHookException
from cookiecutter.prompt import read_user_variable
from cookiecutter.replay import get_file_name
from cookiecutter.repository import expand_abbreviations, is_repo_url, is_zip_file
from cookiecutter.utils import simple_filter
from jinja2 import Environment, TemplateSyntaxError, pass_environment
from jinja2.ext import Extension

TEMPLATE = Path(__file__).resolve().parent
PRE_GEN_HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"


class Answers(Extension):
    """``checked(cookiecutter)``, called from the name of the template's folder, and a clean
    refusal of a value that is not a valid template.

    cookiecutter renders every value given on its command line or in a config file as a Jinja
    template, as its documentation says; one that does not parse is refused here with an
    ``error:`` line instead of a traceback, before anything is written.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["checked"] = checked
        self._parsing = False

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        # Answers and path names are rendered from strings (no name); the template's files are not
        # checked here. Parsing calls preprocess again, hence the flag.
        if name is None and not self._parsing and ("{{" in source or "{%" in source or "{#" in source):
            self._parsing = True
            try:
                self.environment.parse(source)
            except TemplateSyntaxError as error:
                print(
                    f"error: {_shown(source)} is not a valid Jinja template: {error.message}", file=sys.stderr
                )
                raise FailedHookException(
                    "Values given on the command line or in a config file are Jinja templates; "
                    "write literal text inside {% raw %}...{% endraw %}. Nothing was generated."
                ) from None
            finally:
                self._parsing = False
        return source


@pass_environment
def checked(environment: Environment, answers: dict[str, Any]) -> bool:
    """True once every answer passed the rules; else the problems are reported and nothing is made.

    The template's folder is named ``{{cookiecutter.project_slug if checked(cookiecutter)}}``:
    cookiecutter renders that name right before it makes the project directory, whichever way the
    answers came, and before it runs the pre-generation hook. Answers it did not render (a replay,
    which ``checked_answers`` does not see) are checked here: a refused answer leaves nothing
    behind, and the directory's name can only be a valid ``project_slug``, never a path. Values of
    ``__`` keys belong to the template: they are set from cookiecutter.json whatever the answers, a
    replay or a project's recorded answers (``cruft update``) say.
    """
    for key, raw in _own_context().items():
        if key.startswith("__") and not key.startswith("__checked") and isinstance(raw, str):
            answers[key] = environment.from_string(raw).render(cookiecutter=answers) if "{" in raw else raw
    try:
        _refuse_bad_answers(answers, environment)
    except FailedHookException:
        _forget_replayed_answers()
        raise
    return True


def _forget_replayed_answers() -> None:
    """Remove the record cookiecutter has just made of refused answers replayed from a file.

    Given ``--replay-file DIR/NAME.json``, cookiecutter writes the answers it read to ``NAME.json``
    in its ``replay_dir`` before the template can check them (in between, it renders only keys the
    replay lacks, without the replayed answers): refusing them, the template can only remove that
    record. It is found as cookiecutter found it, from the same command line: the user
    configuration read with ``get_user_config`` (``--config-file``, ``--default-config``, else
    ``COOKIECUTTER_CONFIG`` or ``~/.cookiecutterrc``) and the file name made by ``get_file_name``.
    The file replayed is left alone when it is that record (``--replay``, or a file in
    ``replay_dir``). The Python API (``cookiecutter(replay=...)``) has no command line to read:
    there the record stays.
    """
    context = click.get_current_context(silent=True)
    params = context.params if context else {}
    replay_file = params.get("replay_file")
    if not isinstance(replay_file, str) or not replay_file:
        return
    folder, name = os.path.split(os.path.splitext(replay_file)[0])
    replayed = Path(get_file_name(folder, name))
    config = get_user_config(params.get("config_file"), bool(params.get("default_config")))
    record = Path(get_file_name(config["replay_dir"], name))
    if record.is_file() and not (replayed.is_file() and replayed.samefile(record)):
        record.unlink(missing_ok=True)


@simple_filter
@pass_environment
def checked_answers(environment: Environment, answers: dict[str, Any]) -> str:
    """Check every answer once cookiecutter has them all, before it records them in a replay.

    ``__checked``, the last key of cookiecutter.json, applies this filter. Unattended, it reports
    every bad answer at once; a person answering at the prompts has had each checked already.
    """
    _refuse_bad_answers(answers, environment)
    return "yes"


def _refuse_bad_answers(answers: dict[str, Any], environment: Environment) -> None:
    """Report every bad answer, one line each, and stop: a name computed from a bad answer follows
    as a note, not as a second error."""
    hook = _pre_gen_hook()
    found = hook.problems(answers)
    if found:
        own = _own_context()
        derived = {
            field: source
            for field in found
            if (source := _derived_from(field, answers, found, own, environment))
        }
        raise FailedHookException(hook.report(found, derived))


def _derived_from(
    field: str,
    answers: Mapping[str, Any],
    found: Mapping[str, str],
    own: Mapping[str, Any],
    environment: Environment,
) -> str:
    """The refused answer that ``field``'s refused value was computed from, if it kept its default.

    ``connector_name=My-Docker`` makes ``package_name`` ``pyinfra_My-Docker``: one mistake, which
    is reported once, as itself.
    """
    raw = own.get(field)
    if not isinstance(raw, str):
        return ""
    sources = [name for name in re.findall(r"cookiecutter\.(\w+)", raw) if name in found and name != field]
    if not sources or environment.from_string(raw).render(cookiecutter=answers) != answers.get(field):
        return ""
    return sources[0]


@simple_filter
def checked_answer(answers: dict[str, Any], field: str) -> str:
    """The answer to ``field``, asked again until it passes the rules, when a person is answering.

    A ``__checked_<field>`` key right after each question in cookiecutter.json applies this filter:
    cookiecutter renders private keys in order while it asks, so a bad answer is reported with its
    rule and suggestion before the next question, and the question is asked again (the suggestion
    as its default). Where nobody is asked (``--no-input``, a replay, the Python API), it does
    nothing: ``checked_answers`` reports every bad answer at once.
    """
    if _asking():
        hook = _pre_gen_hook()
        own = _own_context()
        questions = [key for key in own if not key.startswith("_")]
        prefix = f"  [dim][{questions.index(field) + 1}/{len(questions)}][/] "
        while line := hook.problem(field, answers.get(field)):
            print(f"error: {line}", file=sys.stderr)
            default = hook.suggestion(field, answers[field]) or answers[field]
            answers[field] = read_user_variable(field, default, own["__prompts__"], prefix)
    return str(answers.get(field))


def _asking() -> bool:
    """Whether cookiecutter's (or cruft's) command line is asking the questions: run without
    ``--no-input``, ``--replay`` or ``--replay-file``.

    Read from click's current context, click's public way to reach the running command's
    parameters. The Python API has none, and is taken as unattended.
    """
    context = click.get_current_context(silent=True)
    params = context.params if context else {}
    return params.get("no_input") is False and not params.get("replay") and not params.get("replay_file")


def _own_context() -> dict[str, Any]:
    """cookiecutter.json as it is now."""
    return dict(_json_of((TEMPLATE / "cookiecutter.json").read_bytes()))


@cache
def _json_of(document: bytes) -> Any:
    return json.loads(document)


def _pre_gen_hook() -> ModuleType:
    """The pre-generation hook, unrendered, as a module: its rules and nothing else run."""
    return _module_of(PRE_GEN_HOOK.read_bytes())


@cache
def _module_of(source: bytes) -> ModuleType:
    module = ModuleType("pre_gen_project")
    module.__file__ = str(PRE_GEN_HOOK)
    exec(compile(source, PRE_GEN_HOOK, "exec"), module.__dict__)
    return module


def _shown(value: str) -> str:
    return repr(value) if value.isascii() else ascii(value)


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


@simple_filter
def toml_string(value: object) -> str:
    """Render ``value`` as a TOML basic string, quotes included.

    Jinja's ``tojson`` is not enough: it writes characters outside the Basic Multilingual Plane
    (emoji) as surrogate-pair escapes, which TOML rejects.
    """
    out = []
    for char in str(value):
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# ASCII punctuation that can start markup anywhere in a line: HTML and comments, links and images,
# emphasis, code, entities, and the tables, strikethrough and math of GitHub's and other renderers.
_MARKDOWN_INLINE = frozenset("\\`*_[]<>&~|$")
# What can start a block at the beginning of a line: a heading, a list item, a setext underline.
_MARKDOWN_LINE_START = re.compile(r"[#+=-]|[0-9]{1,9}[.)]")


@simple_filter
def markdown_text(value: object) -> str:
    """Render ``value`` as Markdown that shows exactly its characters, as one line of text.

    CommonMark reads ``<!--``, ``<b>``, ``[x](y)``, ``*x*``, ``&amp;``, a leading ``#`` or ``1.``
    and more as markup. These get a backslash, which CommonMark removes (any ASCII punctuation may
    be escaped). White space at either end, which Markdown drops, is written as character
    references.
    """
    text = str(value)
    core = text.strip()
    if not core:
        return "".join(f"&#x{ord(char):x};" for char in text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    out = "".join(f"\\{char}" if char in _MARKDOWN_INLINE else char for char in core)
    start = _MARKDOWN_LINE_START.match(core)
    if start:
        out = f"{out[: start.end() - 1]}\\{out[start.end() - 1 :]}"
    return "".join([*(f"&#x{ord(char):x};" for char in lead), out, *(f"&#x{ord(char):x};" for char in trail)])


@simple_filter
def markdown_url(value: object) -> str:
    """Render ``value`` as the destination of a Markdown link, so that the link goes exactly there.

    In a destination CommonMark ends the link at an unbalanced parenthesis and decodes ``&...;``;
    a backslash keeps both as they are.
    """
    return "".join(f"\\{char}" if char in "\\()<>&" else char for char in str(value))


_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


@simple_filter
def plain_answers(answers: Mapping[str, object], *keys: str) -> str:
    """The answers to ``keys``, one ``key=value`` a line, for a hook to read without a JSON parser.

    Only for names, choices and yes/no that the checks passed: any other character than ASCII
    letters, digits, ``_``, ``.`` and ``-`` is refused, so a value can neither end the string it is
    rendered into nor split a line.
    """
    lines = []
    for key in keys:
        value = str(answers[key])
        if not _PLAIN.fullmatch(value):
            raise FailedHookException(f"{key} = {value!r}: not a plain name, choice or yes/no")
        lines.append(f"{key}={value}")
    return "\n".join(lines)


@simple_filter
def cruft_state(answers: Mapping[str, object]) -> str:
    """The project's ``.cruft.json``: the template, its commit and every answer, as cruft writes it.

    With it, ``cruft check`` tells whether the template has moved on and ``cruft update`` brings
    the changes in, whether the project was baked by cookiecutter or by ``cruft create`` (which
    writes its own in its place). The commit is the template's git HEAD, or null where the
    template is not the top of a git work tree.
    """
    source = _template_source(str(answers.get("_template") or TEMPLATE))
    commit = _git_head(TEMPLATE)
    context = {key: _template_of(value) for key, value in answers.items() if not key.startswith("_")}
    context.update(__template_version=answers.get("__template_version"), _template=source, _commit=commit)
    state = {
        "template": source,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [],
    }
    return json.dumps(state, ensure_ascii=False, indent=2)


def _template_of(value: object) -> object:
    """``value`` as a template that renders as itself.

    ``cruft update`` gives the recorded answers back to cookiecutter, which renders them as
    templates: text with Jinja delimiters in it (typed at a prompt, or made literal with
    ``{% raw %}`` on the command line) is recorded as a Jinja string that renders as that text.
    """
    if isinstance(value, str) and re.search(r"\{[{%#]", value):
        return "{{ " + json.dumps(value, ensure_ascii=False) + " }}"
    return value


def _template_source(template: str) -> str:
    """Where cruft finds the template again: its URL, with cookiecutter's abbreviations (``gh:``,
    ``gl:``, ``bb:``) expanded, or the absolute path of a local folder."""
    expanded = expand_abbreviations(template, BUILTIN_ABBREVIATIONS)
    if is_repo_url(expanded) or is_zip_file(expanded):
        return expanded.removeprefix("git+")  # cookiecutter's marker of a git URL, not git's
    return str(TEMPLATE)


def _git_head(folder: Path) -> str | None:
    """The commit checked out in ``folder`` if it is the top of a git work tree, else None."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.split("\n")
    if result.returncode or len(lines) < 2 or Path(lines[0]).resolve() != folder:
        return None  # not a git work tree, or only a folder inside another project's
    return lines[1]


# Python versions: which ones a baked package may support, and which one it supports by default.

PYTHON_END_OF_LIFE: dict[str, tuple[int, int]] = {
    "3.10": (2026, 10),
    "3.11": (2027, 10),
    "3.12": (2028, 10),
    "3.13": (2029, 10),
    "3.14": (2030, 10),
}
"""Every Python a baked package may support (the ``min_python`` answers, 3.10 to ``__python_max``),
oldest first, with the year and month its upstream support ends (PEP 602, and each release's PEP:
CPython is supported up to the end of that month). The ``min_python`` question lists the same,
each once, and the hook's rules accept the same; test_bake.py and test_hooks.py check both."""


class PythonVersions(Extension):
    """``oldest_supported_python()``: the default of ``min_python``, computed on the day of the bake."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["oldest_supported_python"] = oldest_supported_python


def oldest_supported_python(today: date | None = None) -> str:
    """The oldest Python of PYTHON_END_OF_LIFE still supported upstream on ``today`` (this day by
    default); the newest of them once all have reached their end of life."""
    day = today or date.today()
    for version, (year, month) in PYTHON_END_OF_LIFE.items():
        if (day.year, day.month) <= (year, month):
            return version
    return list(PYTHON_END_OF_LIFE)[-1]
