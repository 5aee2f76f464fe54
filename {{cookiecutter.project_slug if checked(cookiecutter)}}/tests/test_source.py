"""Tests of what is particular to this connector: its JSON source and its rules.

What every connector must do is checked by the contract in tests/contract/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from pyinfra.api.config import Config
from pyinfra.api.exceptions import ConnectorDataTypeError, InventoryError
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State
from pyinfra.connectors.base import host_to_connector_data
from pyinfra.connectors.ssh import SSHConnector

from {{ cookiecutter.package_name }} import connector
from {{ cookiecutter.package_name }}.connector import (
    GROUP_KEY,
    NAME,
    SOURCE_KEY,
    {{ cookiecutter.connector_class }} as Connector,
)

HOSTS_JSON = Path(__file__).parent / "hosts.json"


def hosts_from(tmp_path: Path, document: object | str) -> list[tuple[str, dict[str, Any], list[str]]]:
    path = tmp_path / "hosts.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return list(Connector.make_names_data(str(path)))


def test_a_list_of_hostnames(tmp_path: Path) -> None:
    hosts = hosts_from(tmp_path, ["a.example.com", "b.example.com"])
    source = str(tmp_path / "hosts.json")
    assert hosts == [
        ("a.example.com", {"ssh_hostname": "a.example.com", SOURCE_KEY: source, GROUP_KEY: ""}, [f"@{NAME}"]),
        ("b.example.com", {"ssh_hostname": "b.example.com", SOURCE_KEY: source, GROUP_KEY: ""}, [f"@{NAME}"]),
    ]


def test_objects_carry_host_data_and_a_name_or_ssh_hostname(tmp_path: Path) -> None:
    hosts = hosts_from(
        tmp_path,
        [
            {"name": "web", "ssh_hostname": "10.0.0.1", "ssh_port": 2222, "role": "front"},
            {"ssh_hostname": "10.0.0.2", "ssh_user": "admin"},
            {"name": "db.example.com"},
        ],
    )
    assert [(name, data["ssh_hostname"]) for name, data, _ in hosts] == [
        ("web", "10.0.0.1"),
        ("10.0.0.2", "10.0.0.2"),
        ("db.example.com", "db.example.com"),
    ]
    assert hosts[0][1]["ssh_port"] == 2222
    assert hosts[0][1]["role"] == "front"
    assert "name" not in hosts[0][1]
    assert hosts[1][1]["ssh_user"] == "admin"


def test_an_object_of_groups(tmp_path: Path) -> None:
    hosts = hosts_from(tmp_path, {"web": ["w1", {"name": "w2"}], "db": ["d1"], "empty": []})
    assert [(name, groups, data[GROUP_KEY]) for name, data, groups in hosts] == [
        ("w1", [f"@{NAME}", "web"], "web"),
        ("w2", [f"@{NAME}", "web"], "web"),
        ("d1", [f"@{NAME}", "db"], "db"),
    ]


def test_the_example_hosts_file_in_a_pyinfra_inventory() -> None:
    inventory = Inventory(([f"@{NAME}/{HOSTS_JSON}"], {}))
    State(inventory, Config())
    assert sorted(host.name for host in inventory.get_group("web")) == ["web1.example.com", "web2"]
    assert [host.name for host in inventory.get_group("db")] == ["db1.example.com"]
    assert len(inventory.get_group(f"@{NAME}")) == 3
    web2 = inventory.get_host("web2")
    assert (web2.data.ssh_hostname, web2.data.ssh_port) == ("192.0.2.12", 2222)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", r"invalid JSON at line 1 column 2"),
        ('"a string"', r"expected a list of hosts or an object of groups, got a string"),
        ("null", r"got null"),
        ('{"web": "w1"}', r"group 'web' must be a list of hosts, got a string"),
        ('{"": ["w1"]}', r"invalid group name ''"),
        ('{"@web": ["w1"]}', r"invalid group name '@web'"),
        ('{" web": ["w1"]}', r"invalid group name ' web'"),
        ("[42]", r"\[0\]: a host is a hostname or an object, got a number"),
        ('["ok", ["nested"]]', r"\[1\]: a host is a hostname or an object, got a list"),
        ('[{"ssh_user": "admin"}]', r'\[0\]: a host object needs a "name" or "ssh_hostname" string'),
        ('[{"name": 7}]', r'\[0\]: a host object needs a "name" or "ssh_hostname" string'),
        (
            '[{"name": "a", "ssh_hostname": 7}]',
            r'\[0\]: host \'a\': "ssh_hostname" must be a non-empty string',
        ),
        ('[""]', r"\[0\]: invalid host name ''"),
        ('["two words"]', r"\[0\]: invalid host name 'two words'"),
        ('["a,b"]', r"\[0\]: invalid host name 'a,b'"),
        ('["@local"]', r"\[0\]: invalid host name '@local'"),
        ('{"web": ["w1"], "db": ["d1", "w1"]}', r"db\[1\]: duplicate host 'w1', already listed at web\[0\]"),
        ('["w1", {"name": "w1"}]', r"\[1\]: duplicate host 'w1', already listed at \[0\]"),
    ],
)
def test_bad_documents_name_the_offending_entry(tmp_path: Path, document: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        hosts_from(tmp_path, document)


# Each key pyinfra's SSH connector types (its ConnectorData), a value of another type, and what the
# error says the value must be. ssh_hostname is the host's address, checked with the host's name.
WRONG_SSH_DATA: dict[str, tuple[object, str]] = {
    "ssh_hostname": ([], "a non-empty string"),
    "ssh_port": ("22x", "an integer"),
    "ssh_user": (7, "a string"),
    "ssh_password": (1234, "a string"),
    "ssh_key": (["~/.ssh/id_ed25519"], "a string"),
    "ssh_key_password": (None, "a string"),
    "ssh_allow_agent": ("yes", "true or false"),
    "ssh_look_for_keys": (1, "true or false"),
    "ssh_forward_agent": ("no", "true or false"),
    "ssh_config_file": (False, "a string"),
    "ssh_known_hosts_file": ({"path": "known_hosts"}, "a string"),
    "ssh_strict_host_key_checking": (True, "a string"),
    "ssh_paramiko_connect_kwargs": (["timeout", 5], "an object"),
    "ssh_connect_retries": ("3", "an integer"),
    "ssh_connect_retry_min_delay": ("0.1", "a number"),
    "ssh_connect_retry_max_delay": (None, "a number"),
    "ssh_file_transfer_protocol": (1, "a string"),
}


def test_every_key_pyinfras_ssh_connector_types_is_checked() -> None:
    assert sorted(WRONG_SSH_DATA) == sorted(get_type_hints(SSHConnector.data_cls))


def pyinfra_refuses(key: str, value: object) -> bool:
    """Whether pyinfra's SSH connector refuses ``value`` for ``key``, as it does for a built host."""
    host_data: Any = {key: value}  # pyinfra passes its HostData, which reads the same
    try:
        host_to_connector_data(SSHConnector.data_cls, SSHConnector.data_meta, host_data)
    except ConnectorDataTypeError:
        return True
    return False


@pytest.mark.parametrize(
    ("key", "value", "wanted"), [pytest.param(key, *row, id=key) for key, row in WRONG_SSH_DATA.items()]
)
def test_ssh_data_pyinfra_refuses_is_an_inventory_error_naming_the_host_and_the_key(
    tmp_path: Path, key: str, value: object, wanted: str
) -> None:
    assert pyinfra_refuses(key, value)
    document = {"web": ["web1", {"name": "web2", "ssh_port": 2222, key: value}]}
    message = f"@{NAME}/{tmp_path / 'hosts.json'}: web[1]: host 'web2': \"{key}\" must be {wanted}"
    with pytest.raises(InventoryError) as raised:
        hosts_from(tmp_path, document)
    assert str(raised.value).startswith(message), str(raised.value)
    # pyinfra's Inventory gets it from make_names_data, before its own check of the hosts' data.
    with pytest.raises(InventoryError, match="web2"):
        Inventory(([f"@{NAME}/{tmp_path / 'hosts.json'}"], {}))


def test_the_command_line_names_the_host_and_the_key_of_ssh_data_pyinfra_refuses(tmp_path: Path) -> None:
    (tmp_path / "hosts.json").write_text(json.dumps({"web": [{"name": "web2", "ssh_port": "22x"}]}))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("pyinfra")), f"@{NAME}/hosts.json", "debug-inventory"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"@{NAME}/hosts.json: web[0]: host 'web2': " + '"ssh_port" must be an integer, got "22x"' in output
    assert "Connector data type error" not in output
    assert "Traceback" not in output


def test_ssh_data_is_refused_exactly_where_pyinfra_refuses_it(tmp_path: Path) -> None:
    # An integer is a number, and true an integer, to pyinfra's check: so to this connector's.
    # (ssh_hostname, the host's address, has rules of its own: null for the name, never empty.)
    values: list[object] = ["text", "", 0, 22, 2**70, 0.5, True, False, None, [], ["a"], {}, {"a": 1}]
    for key in WRONG_SSH_DATA.keys() - {"ssh_hostname"}:
        for value in values:
            document = [{"name": "host", key: value}]
            try:
                hosts_from(tmp_path, document)
            except InventoryError:
                refused = True
            else:
                refused = False
            assert refused == pyinfra_refuses(key, value), (key, value)


@pytest.mark.parametrize(
    "document",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 100_000 + "1" + "}" * 100_000,
        '[{"name": "a", "data": ' + "[" * 100_000 + "]" * 100_000 + "}]",
    ],
    ids=["lists", "objects", "in-host-data"],
)
def test_a_document_nested_too_deeply(tmp_path: Path, document: str) -> None:
    with pytest.raises(InventoryError, match="invalid JSON: nested too deeply"):
        hosts_from(tmp_path, document)


@pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"), reason="no limit on integer digits")
def test_a_number_too_long_to_read(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"cannot read it as JSON: .*digits"):
        hosts_from(tmp_path, "[" + "1" * 5000 + "]")


def test_a_path_with_a_nul() -> None:
    with pytest.raises(InventoryError, match=r"cannot read it as JSON: .*null"):
        list(Connector.make_names_data("hosts\x00.json"))


def test_a_group_name_that_is_not_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # A replaced load_source may return what JSON cannot hold.
    monkeypatch.setattr(connector, "load_source", lambda source: {1: ["w1"]})
    with pytest.raises(InventoryError, match="invalid group name 1"):
        list(Connector.make_names_data("api"))


def test_missing_argument_says_what_is_expected() -> None:
    for argument in (None, ""):
        with pytest.raises(InventoryError, match=f"@{NAME}/<source>"):
            list(Connector.make_names_data(argument))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such file"):
        list(Connector.make_names_data(str(tmp_path / "missing.json")))


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read it"):
        list(Connector.make_names_data(str(tmp_path)))


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "hosts.json").write_bytes(b'["caf\xe9"]')
    with pytest.raises(InventoryError, match="not UTF-8"):
        list(Connector.make_names_data(str(tmp_path / "hosts.json")))


def test_loading_twice_gives_equal_but_new_hosts(tmp_path: Path) -> None:
    first = hosts_from(tmp_path, {"web": [{"name": "w1", "tags": ["a"]}]})
    second = list(Connector.make_names_data(str(tmp_path / "hosts.json")))
    assert first == second
    assert first[0][1] is not second[0][1]


def test_load_source_is_the_one_place_to_plug_in_another_system(monkeypatch: pytest.MonkeyPatch) -> None:
    # For example, the JSON printed by a command instead of a file.
    def load_source(source: str) -> object:
        printed = subprocess.run(
            [sys.executable, "-c", "import json; print(json.dumps({'api': ['from-a-command']}))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(printed)

    monkeypatch.setattr(connector, "load_source", load_source)
    assert list(Connector.make_names_data("production")) == [
        (
            "from-a-command",
            {"ssh_hostname": "from-a-command", SOURCE_KEY: "production", GROUP_KEY: "api"},
            [f"@{NAME}", "api"],
        )
    ]
