"""Jinja filters of the template: embedding free text safely, and checking answers early.

cookiecutter loads this module through ``_extensions`` in ``cookiecutter.json``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType

from cookiecutter.exceptions import FailedHookException
from cookiecutter.utils import simple_filter

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


@cache
def _pre_gen_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", Path(__file__).parent / "hooks" / "pre_gen_project.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("cannot load hooks/pre_gen_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@simple_filter
def check_answers(answers: Mapping[str, object]) -> str:
    """Run the pre-generation hook's checks while cookiecutter renders the answers.

    ``__answers_checked``, the last variable in cookiecutter.json, applies this filter to every
    answer given before it. It runs before cookiecutter creates any directory, so a bad answer
    leaves nothing behind; the error is reported the way the hook reports it.
    """
    hook = _pre_gen_hook()
    lines = hook.problems(dict(answers))
    if lines:
        raise FailedHookException(hook.report(lines))
    return "yes"
