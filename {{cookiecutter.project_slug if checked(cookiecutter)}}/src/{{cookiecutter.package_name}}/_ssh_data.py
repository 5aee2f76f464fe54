"""The types pyinfra's SSH connector requires of a host's ``ssh_*`` data, checked as each host is read.

pyinfra reaches an inventory connector's hosts with its ``@ssh`` connector, which checks the type of
every ``ssh_*`` key it knows (the ``ConnectorData`` of ``pyinfra/connectors/ssh.py``) only once the
hosts are built, in an error that names neither the host nor where it is listed. :func:`check`
applies the same check, pyinfra's own, as :mod:`.connector` reads each host, so that a value of the
wrong type is an ``InventoryError`` naming the entry, the host and the key. Nothing here knows about
the inventory's source; you should not need to change it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, get_type_hints

from pyinfra.api.exceptions import ConnectorDataTypeError, InventoryError
from pyinfra.api.util import raise_if_bad_type
from pyinfra.connectors.ssh import SSHConnector

TYPES: Final[dict[str, Any]] = get_type_hints(SSHConnector.data_cls)
"""Each ``ssh_*`` key pyinfra's SSH connector knows, and the type it requires of a value given."""

_JSON_NAMES: Final[dict[Any, str]] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
}


def check(data: Mapping[str, Any], where: str) -> None:
    """Raise ``InventoryError``, saying ``where`` and the key, for the first ``ssh_*`` value in
    ``data`` whose type pyinfra's SSH connector refuses."""
    for key, value in data.items():
        expected = TYPES.get(key)
        if expected is None or type(value) is expected:  # the common case, without typeguard
            continue
        try:
            # What pyinfra's host_to_connector_data does with it, so the two never disagree: an
            # integer is a number, true is an integer.
            raise_if_bad_type(value, expected, ConnectorDataTypeError, key)
        except ConnectorDataTypeError:
            wanted = _JSON_NAMES.get(expected, getattr(expected, "__name__", str(expected)))
            raise InventoryError(f'{where}: "{key}" must be {wanted}, got {_shown(value)}') from None


def _shown(value: object) -> str:
    """A value as its JSON, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON: a replaced load_source may return anything
        try:
            text = repr(value)
        except ValueError:  # an integer of more than Python's 4300 digits
            text = "(too long to show)"
    return text if len(text) <= 60 else f"{text[:57]}..."
