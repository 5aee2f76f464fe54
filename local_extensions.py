"""Jinja filters the template uses to embed free text safely.

cookiecutter loads this module through ``_extensions`` in ``cookiecutter.json``.
"""

from __future__ import annotations

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
