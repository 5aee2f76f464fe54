"""The baked README's recipes for real systems, applied as a person would: read from the README itself.

Each recipe is a subsection of a baked executing project's "Pointing it at your system": its Python
block is the new body of ``target_argv``, its TOML block what goes into
``tests/connector-contract.toml``, its ``sh`` block the command lines to run, and any other block a
file the recipe asks for (an ``ssh_config``). ``read_recipe`` reads one, ``adapted_copy`` applies the
first two (and a new ``TARGET_PATTERN`` line, where a recipe gives one) to a copy of a baked project
and changes nothing else. The transports' own modules (docker_recipe.py, ssh_recipe.py,
chroot_recipe.py) substitute only what must differ here: names that must be unique to the run, and
where the real system is.
"""

from __future__ import annotations

import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peers import Report, report_of
from support import Outcome, command_lines, fenced_blocks, run_contract

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEFAULT_SEAM = '        return ["sh", "-c", command]\n'
PATTERN_LINE = re.compile(r"^TARGET_PATTERN = .*$", flags=re.M)


@dataclass(frozen=True)
class Recipe:
    body: str  # the new body of target_argv, unindented
    config: dict[str, Any]  # settings for tests/connector-contract.toml
    commands: list[str]  # the shell lines, in order
    files: dict[str, str] = field(default_factory=dict)  # other blocks, by their language
    pattern: str | None = None  # the new TARGET_PATTERN line, where the recipe changes it


def read_recipe(readme: str, heading: str) -> Recipe:
    """The blocks of the recipe under ``heading``, from a baked executing project's README."""
    blocks: dict[str, list[str]] = {}
    for language, text in fenced_blocks(readme, heading):
        blocks.setdefault(language, []).append(text)
    (body,), (config,) = blocks.pop("python"), blocks.pop("toml")
    commands = [line for text in blocks.pop("sh") for line in command_lines("sh", text)]
    files = {}
    for language, texts in blocks.items():
        (files[language],) = texts
    return Recipe(body, tomllib.loads(config), commands, files)


def toml_value(value: Any) -> str:
    """``value`` (a string, number, boolean, list or table of them) as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        assert escaped.isprintable(), f"{value!r}: write a control character as TOML escapes it"
        return f'"{escaped}"'
    if isinstance(value, list):
        return f"[{', '.join(map(toml_value, value))}]"
    if isinstance(value, dict):
        for key in value:
            assert re.fullmatch(r"[A-Za-z0-9_-]+", key), f"{key!r}: quote such a key"
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def with_settings(text: str, settings: dict[str, Any]) -> str:
    """The text of a ``connector-contract.toml`` with each of these one-line settings changed."""
    for key, value in settings.items():
        setting = re.search(rf"^{key} = .*$", text, flags=re.M)
        assert setting, f"no {key} setting to change"
        text = f"{text[: setting.start()]}{key} = {toml_value(value)}{text[setting.end() :]}"
    assert tomllib.loads(text), text
    return text


def adapted_copy(
    project: Path, destination: Path, recipe: Recipe, rename: Callable[[str], str] = str
) -> Path:
    """A copy of ``project`` with only ``target_argv``'s body, the contract's settings and, where the
    recipe gives one, the ``TARGET_PATTERN`` line changed, as the recipe says; ``rename`` changes each
    string in the settings (names unique to the run)."""
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".*_cache"))
    (connector,) = destination.glob("src/*/connector.py")
    text = connector.read_text(encoding="utf-8")
    assert text.count(DEFAULT_SEAM) == 1, f"{connector}: the default body of target_argv is not there"
    body = "".join(f"        {line}\n" for line in recipe.body.splitlines())
    text = text.replace(DEFAULT_SEAM, body)
    pattern = recipe.pattern
    if pattern is not None:
        assert len(PATTERN_LINE.findall(text)) == 1, f"{connector}: no single TARGET_PATTERN line"
        text = PATTERN_LINE.sub(lambda _: pattern, text)
    connector.write_text(text, encoding="utf-8")

    def renamed(value: Any) -> Any:
        if isinstance(value, str):
            return rename(value)
        if isinstance(value, list):
            return [renamed(item) for item in value]
        if isinstance(value, dict):
            return {key: renamed(item) for key, item in value.items()}
        return value

    config = destination / "tests" / "connector-contract.toml"
    text = with_settings(config.read_text(encoding="utf-8"), renamed(recipe.config))
    config.write_text(text, encoding="utf-8")
    return destination


ALWAYS_SKIPPED = "executes commands itself"  # the inventory-only check, for an executing connector


def undeclared_skips(junit: Path, recipe: Recipe) -> list[str]:
    """The tests of a run that were skipped for a reason the recipe's configuration does not declare."""
    declared = set(recipe.config.get("unsupported", []))
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            reason = skipped.get("message", "")
            if ALWAYS_SKIPPED not in reason and not any(
                f"'{name}' not offered" in reason for name in declared
            ):
                found.append(f"{case.get('name')}: {reason}")
    return found


EXPECTED_HOSTS = re.compile(r"^expected_hosts = \[\n(?:.*\n)*?\]\n", flags=re.M)


def peer_configuration(project: Path, path: Path, expected_hosts: str, settings: dict[str, Any]) -> Path:
    """Write at ``path`` the adapted ``project``'s contract configuration for one of pyinfra's own
    connectors on the same targets: ``settings`` (its ``connector`` among them) changed, and its
    ``expected_hosts``, a TOML line, in place of the baked connector's, since it names and tags its
    hosts its own way."""
    text = (project / "tests" / "connector-contract.toml").read_text(encoding="utf-8")
    path.write_text(with_settings(EXPECTED_HOSTS.sub(expected_hosts, text), settings), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Walkthrough:
    recipe: Recipe  # with the settings given to the contract
    suite: Outcome  # the whole baked suite, the connector with the recipe
    suite_result: Any
    suite_report: Report  # its contract report
    peer: Report  # the contract against pyinfra's own connector, on the same targets
    peer_result: Any
    junit: Path  # the suite's JUnit report


def suite_and_peer(python: str, recipe: Recipe, project: Path, peer_config: Path, work: Path) -> Walkthrough:
    """Run the adapted ``project``'s whole suite, then its contract with ``peer_config``, each
    writing its JUnit and contract reports in ``work``."""
    env = {"PYTHONPATH": str(project / "src"), "CI": "true"}
    suite, suite_result = run_contract(
        python, project, work / "suite.xml", f"--contract-report={work / 'suite.json'}", env=env
    )
    _, peer_result = run_contract(
        python,
        project,
        work / "peer.xml",
        "tests/contract",
        "--contract-config",
        str(peer_config),
        f"--contract-report={work / 'peer.json'}",
        env=env,
    )
    return Walkthrough(
        recipe,
        suite,
        suite_result,
        report_of(suite_result, work / "suite.json"),
        report_of(peer_result, work / "peer.json"),
        peer_result,
        work / "suite.xml",
    )
