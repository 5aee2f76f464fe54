"""The README tells the truth: its commands are the ones CI runs, its option table is complete."""

from __future__ import annotations

import re

from support import COOKIECUTTER, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    block = README.split("## Set up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_set_up_is_two_commands_bake_then_test() -> None:
    bake, test = setup_commands()
    assert "cookiecutter --no-input ." in bake
    assert test.endswith("-m pytest")


def test_ci_runs_the_readme_test_command_unchanged() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line
        for line in ci.splitlines()
        if line and not line.startswith(("#", " ")) and "=" not in line.split()[0]
    ]
    assert commands[-1] == setup_commands()[1]


def test_every_option_is_documented_with_its_default() -> None:
    table = README.split("## Options", 1)[1].split("###", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    public = [key for key in COOKIECUTTER if not key.startswith("_")]
    assert documented == public
    for key, value in COOKIECUTTER.items():
        if isinstance(value, list) and key in public:
            row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
            for choice in value:
                assert f"`{choice}`" in row, f"{key}: choice {choice} is not documented"


def test_readme_states_the_pyinfra_floor() -> None:
    assert f"pyinfra>={COOKIECUTTER['__pyinfra_min']},<4" in README


def test_every_validated_field_is_in_the_rules_table() -> None:
    from test_hooks import PRE_GEN

    table = README.split("### Rules for answers", 1)[1].split("\n\n| Field |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`(\w+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines())))
    assert {field for field, *_ in PRE_GEN.RULES} | set(PRE_GEN.CHOICES) | set(PRE_GEN.FLAGS) <= documented
