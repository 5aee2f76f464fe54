"""Jinja extensions of the template: answers kept as given, free text embedded safely, answers
checked before anything is written.

cookiecutter loads this module through ``_extensions`` in ``cookiecutter.json``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter import prompt
from cookiecutter.exceptions import FailedHookException
from cookiecutter.utils import simple_filter
from jinja2 import Environment
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
        if getattr(original, "keeps_answers", False):
            return

        def render_variable(env: Environment, raw: Any, cookiecutter_dict: dict[str, Any]) -> Any:
            if (
                isinstance(raw, str)
                and LiteralAnswers.identifier in env.extensions
                and raw not in _own_values()
            ):
                return raw
            return original(env, raw, cookiecutter_dict)

        render_variable.keeps_answers = True  # type: ignore[attr-defined]
        prompt.render_variable = render_variable


@cache
def _own_values() -> frozenset[str]:
    """Every string in cookiecutter.json: the only values that are templates."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    return frozenset(strings(json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))))


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


PRE_GEN_HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"


@cache
def _pre_gen_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pre_gen_project", PRE_GEN_HOOK)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {PRE_GEN_HOOK}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _rules_fingerprint() -> bytes:
    return hashlib.sha256(PRE_GEN_HOOK.read_bytes()).digest()


def fingerprint(answers: Mapping[str, object]) -> str:
    """A digest of the public answers and of the rules they are checked against."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    digest = hashlib.sha256(_rules_fingerprint())
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
    hook = _pre_gen_hook()
    lines = hook.problems(dict(answers))
    if lines:
        raise FailedHookException(hook.report(lines))
    return fingerprint(answers)


@simple_filter
def already_checked(answers: Mapping[str, object]) -> str:
    """``yes`` if ``__answers_checked`` is the fingerprint of these very answers, else ``no``.

    Rendered into the pre-generation hook, which then skips checks these answers already passed.
    Answers changed since they were checked, or replayed against other rules, are checked again.
    """
    return "yes" if answers.get("__answers_checked") == fingerprint(answers) else "no"
