"""Jinja extensions of the template: answers kept as given, free text embedded safely, answers
checked before anything is written, and a record of how a project was made.

cookiecutter loads this module through ``_extensions`` in ``cookiecutter.json``. One process may
render several versions of the template from the same folder (``cruft update`` renders the old and
the new one), so nothing read from the template's files is kept beyond the content it was read
from.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter import generate, prompt
from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.exceptions import FailedHookException
from cookiecutter.repository import expand_abbreviations, is_repo_url, is_zip_file
from cookiecutter.utils import simple_filter
from jinja2 import Environment, pass_environment
from jinja2.ext import Extension

TEMPLATE = Path(__file__).resolve().parent


class LiteralAnswers(Extension):
    """Keep every answer exactly as it was given.

    cookiecutter renders each answer it gets on its command line or from a config file as a Jinja
    template, so a description like ``{{ 7*7 }}`` would become ``49``, and ``{% if %}`` would fail.
    Only the template's own values in cookiecutter.json (the computed defaults) are templates;
    with this extension loaded every other answer is text. Answers typed at the prompts are not
    rendered by cookiecutter in the first place.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        original = prompt.render_variable
        if not getattr(original, "keeps_answers", False):

            def render_variable(env: Environment, raw: Any, cookiecutter_dict: dict[str, Any]) -> Any:
                if isinstance(raw, str) and (
                    # Text without Jinja renders as itself: spare compiling it (every choice and
                    # prompt text of cookiecutter.json, on every bake).
                    "{" not in raw
                    or (LiteralAnswers.identifier in env.extensions and raw not in _own_values())
                ):
                    return raw
                return original(env, raw, cookiecutter_dict)

            render_variable.keeps_answers = True  # type: ignore[attr-defined]
            prompt.render_variable = render_variable

        create_dir = generate.render_and_create_dir
        if not getattr(create_dir, "checks_answers", False):

            def render_and_create_dir(
                dirname: str, context: dict[str, Any], output_dir: Any, environment: Environment, *args: Any
            ) -> Any:
                if LiteralAnswers.identifier in environment.extensions:
                    _settle_answers(context["cookiecutter"], environment)
                return create_dir(dirname, context, output_dir, environment, *args)

            render_and_create_dir.checks_answers = True  # type: ignore[attr-defined]
            generate.render_and_create_dir = render_and_create_dir


class ProjectDirectory(Extension):
    """``project_directory(cookiecutter)``: the name of the project directory, the template folder's
    name. Temporary: it settles the answers the way the wrapped ``render_and_create_dir`` does."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["project_directory"] = project_directory


@pass_environment
def project_directory(environment: Environment, answers: dict[str, Any]) -> str:
    _settle_answers(answers, environment)
    return str(answers["project_slug"])


def _settle_answers(answers: dict[str, Any], environment: Environment) -> None:
    """Check the answers, and set the template's own values, right before the project directory is
    made: the last step before anything is written, whichever way the answers came.

    ``check_answers`` already checked answers that were rendered, and ``__answers_checked`` then
    holds their fingerprint. Answers that were not rendered (a replay file) or that set
    ``__answers_checked`` themselves (``__answers_checked=x`` on the command line) are checked here.
    Values of ``__`` keys belong to the template, not to the answers: they are set from
    cookiecutter.json whatever the answers or a replay say.
    """
    for key, raw in _own_context().items():
        if key.startswith("__") and key != "__answers_checked" and isinstance(raw, str):
            answers[key] = environment.from_string(raw).render(cookiecutter=answers) if "{" in raw else raw
    if not _passed(answers):
        answers["__answers_checked"] = _checked(answers)


def _own_values() -> frozenset[str]:
    """Every string in cookiecutter.json: the only values that are templates."""
    return _strings_of((TEMPLATE / "cookiecutter.json").read_bytes())


def _own_context() -> dict[str, Any]:
    """cookiecutter.json as it is now."""
    return dict(_json_of((TEMPLATE / "cookiecutter.json").read_bytes()))


@cache
def _json_of(document: bytes) -> Any:
    return json.loads(document)


@cache
def _strings_of(document: bytes) -> frozenset[str]:
    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    return frozenset(strings(_json_of(document)))


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


PRE_GEN_HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"


def _pre_gen_hook() -> ModuleType:
    """The pre-generation hook, unrendered, as a module: the checks and nothing else run."""
    return _module_of(PRE_GEN_HOOK.read_bytes())


@cache
def _module_of(source: bytes) -> ModuleType:
    module = ModuleType("pre_gen_project")
    module.__file__ = str(PRE_GEN_HOOK)
    exec(compile(source, PRE_GEN_HOOK, "exec"), module.__dict__)
    return module


def fingerprint(answers: Mapping[str, object]) -> str:
    """A digest of the public answers and of the rules they are checked against."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    digest = hashlib.sha256(PRE_GEN_HOOK.read_bytes())
    digest.update(json.dumps(public, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


@simple_filter
def check_answers(answers: Mapping[str, object]) -> str:
    """Run the pre-generation hook's checks while cookiecutter renders the answers.

    ``__answers_checked``, the last variable in cookiecutter.json, applies this filter to every
    answer given before it. It runs before cookiecutter creates any directory, so a bad answer
    leaves nothing behind; the error is reported the way the hook reports it. Its value is the
    fingerprint of the answers that passed, the same for the same answers in every run, so that
    recorded answers (replay files, cruft) stay reproducible.
    """
    return _checked(answers)


def _checked(answers: Mapping[str, object]) -> str:
    """The fingerprint of ``answers`` if they pass the hook's checks; else the hook's report."""
    hook = _pre_gen_hook()
    lines = hook.problems(dict(answers))
    if lines:
        raise FailedHookException(hook.report(lines))
    return fingerprint(answers)


def _passed(answers: Mapping[str, object]) -> bool:
    """Whether ``__answers_checked`` is the fingerprint of these very answers."""
    return answers.get("__answers_checked") == fingerprint(answers)


@simple_filter
def already_checked(answers: Mapping[str, object]) -> str:
    """``yes`` if ``__answers_checked`` is the fingerprint of these very answers, else ``no``.

    Rendered into the pre-generation hook, which then skips checks these answers already passed.
    Answers changed since they were checked, or replayed against other rules, are checked again.
    """
    return "yes" if _passed(answers) else "no"


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
    context = {key: value for key, value in answers.items() if not key.startswith("_")}
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


def _template_source(template: str) -> str:
    """Where cruft finds the template again: its URL, with cookiecutter's abbreviations (``gh:``,
    ``gl:``, ``bb:``) expanded, or the absolute path of a local folder."""
    expanded = expand_abbreviations(template, BUILTIN_ABBREVIATIONS)
    if is_repo_url(expanded) or is_zip_file(expanded):
        return expanded.removeprefix("git+")  # cookiecutter's marker of a git URL, not git's
    return str(TEMPLATE)


def _git_head(folder: Path) -> str | None:
    """The commit checked out in ``folder`` if it is the top of a git work tree, else None.

    Read from the repository's files (a bake pays for every process it starts); git itself answers
    what they do not say plainly.
    """
    git = folder / ".git"
    try:
        if git.is_file():  # a linked work tree or a submodule: "gitdir: <path>"
            git = (folder / git.read_text().removeprefix("gitdir:").strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if _COMMIT.fullmatch(head):
            return head  # detached, as after cookiecutter --checkout <tag>
        ref = head.removeprefix("ref: ")
        common = git / (git / "commondir").read_text().strip() if (git / "commondir").is_file() else git
        if ref != head:
            loose, packed = common / ref, common / "packed-refs"
            if loose.is_file():
                commit = loose.read_text().strip()
            elif packed.is_file():  # as a fresh clone keeps them
                listed = (line.split(" ", 1) for line in packed.read_text().splitlines())
                commit = next((sha for sha, *name in listed if name == [ref]), "")
            else:
                commit = ""
            if _COMMIT.fullmatch(commit):
                return commit
    except OSError:
        return None if not git.exists() else _git_rev_parse(folder)
    return _git_rev_parse(folder) if git.exists() else None


_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _git_rev_parse(folder: Path) -> str | None:
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
# Self-contained: it reads nothing else of this module.

from datetime import date  # noqa: E402 - this block stands on its own

PYTHON_END_OF_LIFE: dict[str, tuple[int, int]] = {
    "3.10": (2026, 10),
    "3.11": (2027, 10),
    "3.12": (2028, 10),
    "3.13": (2029, 10),
    "3.14": (2030, 10),
}
"""Every Python a baked package may support (the ``min_python`` choices, 3.10 to ``__python_max``),
oldest first, with the year and month its upstream support ends (PEP 602, and each release's PEP:
CPython is supported up to the end of that month). The one place these dates are written."""


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
