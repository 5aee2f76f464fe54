"""The hooks: every validation rule refuses a bad value, says why, and leaves nothing on disk."""

from __future__ import annotations

import ast
import importlib.util
import json
import keyword
import re
import subprocess
import sys
from email.headerregistry import Address, HeaderRegistry
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from cookiecutter.utils import create_env_with_context
from hypothesis import given, settings, strategies as st

from local_extensions import PYTHON_END_OF_LIFE
from matrix import BAD_VALUES, GOOD_VALUES, variant_params
from support import ON_GITHUB, PYTHON_MAX, ROOT, TEMPLATE_FOLDER, Baked, find_python, installed_python

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_hook(name: str) -> ModuleType:
    """Import a hook as a module: its answers are a string cookiecutter fills in, so the rest is plain Python."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "hooks" / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PRE_GEN = load_hook("pre_gen_project")
POST_GEN = load_hook("post_gen_project")


def default_answers(**extra: str) -> dict[str, Any]:
    return dict(
        prompt_for_config(
            generate_context(str(ROOT / "cookiecutter.json"), extra_context=extra), no_input=True
        )
    )


def test_every_rule_has_a_bad_value() -> None:
    covered = {(field, message) for field, _, message in BAD_VALUES}
    for field, _, rule, _ in PRE_GEN.RULES:
        assert any(f == field and message in rule for f, message in covered), (
            f"no bad value for {field}: {rule}"
        )


def test_defaults_pass() -> None:
    for kind in ("executing", "inventory"):
        assert PRE_GEN.problems(default_answers(connector_kind=kind)) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"), BAD_VALUES, ids=lambda v: repr(v)[:30] if isinstance(v, str) else None
)
def test_each_rule_names_the_field_the_value_and_the_rule(field: str, value: str, message: str) -> None:
    answers = default_answers()
    answers[field] = value
    lines = list(PRE_GEN.problems(answers).values())
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field} = {PRE_GEN.shown(value)}: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("field", "value"), [("connector_kind", "both"), ("license", "WTFPL"), ("min_python", "3.9")]
)
def test_choices_are_checked_too(field: str, value: str) -> None:
    # cookiecutter refuses these on its command line, but a replay file or a config file can carry them.
    answers = default_answers()
    answers[field] = value
    assert PRE_GEN.problems(answers) == {
        field: f"{field} = {value!r}: must be one of {', '.join(PRE_GEN.CHOICES[field])}"
    }


@pytest.mark.parametrize("field", ["github_actions", "pre_commit"])
def test_yes_no_options_are_checked(field: str) -> None:
    answers = default_answers()
    answers[field] = "maybe"  # a replay or config file can carry anything
    assert PRE_GEN.problems(answers) == {field: f"{field} = 'maybe': must be yes or no"}


@pytest.mark.parametrize(
    ("field", "value", "suggestion"),
    [
        ("connector_name", "Acme-Cloud", "acme_cloud"),
        ("connector_name", "local", "my_local"),
        ("package_name", "json", "pyinfra_json"),
        ("project_slug", "Pyinfra_Acme", "pyinfra-acme"),
        ("connector_class", "acme_cloud_connector", "AcmeCloudConnector"),
        ("description", "two\nlines", "two lines"),
    ],
)
def test_suggestions(field: str, value: str, suggestion: str) -> None:
    answers = default_answers()
    answers[field] = value
    (line,) = PRE_GEN.problems(answers).values()
    assert line.endswith(f"(did you mean {suggestion!r}?)")


def test_look_alike_characters_are_shown_escaped() -> None:
    answers = default_answers()
    answers["connector_name"] = "\u0430cme"  # a Cyrillic letter that looks like "a"
    (line,) = PRE_GEN.problems(answers).values()
    assert line.startswith("connector_name = '\\u0430cme':")


@pytest.mark.parametrize(("field", "value"), GOOD_VALUES, ids=repr)
def test_unusual_values_that_are_accepted(field: str, value: str) -> None:
    answers = default_answers()
    answers[field] = value
    assert PRE_GEN.problems(answers) == {}


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.emails(),
        st.from_regex(PRE_GEN.EMAIL, fullmatch=True),
        st.text(st.characters(codec="ascii"), max_size=30).map(lambda local: f"{local}@example.com"),
    )
)
def test_every_accepted_email_is_one_the_package_metadata_takes(email: str) -> None:
    # hatchling writes the authors into the package metadata with email.headerregistry.Address,
    # which refuses what RFC 5322 does not allow, non-ASCII before the @ included.
    answers = default_answers()
    answers["author_email"] = email
    if PRE_GEN.problems(answers):
        return
    assert Address(addr_spec=email).addr_spec == email
    header = str(Address(display_name='O\'Brien, "JJ" <x>', addr_spec=email))
    (parsed,) = HeaderRegistry()("resent-from", header).addresses
    assert parsed.addr_spec == email


def stdlib_and_keywords(python: str) -> dict[str, list[str]]:
    script = (
        "import json, keyword, sys; print(json.dumps({'stdlib': sorted(sys.stdlib_module_names), "
        "'keywords': keyword.kwlist, 'soft_keywords': keyword.softkwlist}))"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout))


# The names every Python a baked package may support reserves, written down for each (the newest
# may not be installable where the tests run).
PYTHON_NAMES: dict[str, Any] = json.loads((ROOT / "tests" / "python_names.json").read_text(encoding="utf-8"))
OFFERED = [version for version in PYTHON_NAMES if version != "about"]


def test_the_names_are_written_down_for_every_python_offered() -> None:
    assert list(PRE_GEN.CHOICES["min_python"]) == OFFERED
    assert list(PYTHON_END_OF_LIFE) == OFFERED
    assert OFFERED[0] == "3.10"
    assert OFFERED[-1] == PYTHON_MAX
    assert [f"3.{minor}" for minor in range(10, int(PYTHON_MAX[2:]) + 1)] == OFFERED


def test_the_rules_hold_exactly_what_the_pythons_offered_reserve() -> None:
    # The rules are written out, not read from the Python that runs cookiecutter: on 3.11
    # keyword.issoftkeyword("type") is False, 3.10 has no tomllib, and 3.14 added annotationlib.
    def every(key: str) -> set[str]:
        return {name for version in OFFERED for name in PYTHON_NAMES[version][key]}

    assert every("keywords") == PRE_GEN.KEYWORDS
    assert every("soft_keywords") == PRE_GEN.SOFT_KEYWORDS
    # xxsubtype ships with CPython (an extension module in lib-dynload), though not in stdlib_module_names.
    assert every("stdlib") | {"xxsubtype"} == PRE_GEN.STDLIB_MODULES
    assert {"annotationlib", "compression", "tomllib", "distutils"} <= PRE_GEN.STDLIB_MODULES


# Each Python offered that is installed here; GitHub's runners set up all of them.
INSTALLED = [version for version in OFFERED if ON_GITHUB or installed_python(version)]


def test_the_pythons_compared_are_named_and_include_the_oldest() -> None:
    # The written names of a Python that is not installed stand in for it (3.14 where it cannot
    # be installed yet); the oldest one offered is always compared.
    assert "3.10" in INSTALLED
    if ON_GITHUB:
        assert INSTALLED == OFFERED


@pytest.mark.parametrize("version", INSTALLED)
def test_the_written_names_are_what_each_installed_python_reserves(version: str) -> None:
    names = stdlib_and_keywords(find_python(version))
    assert names["keywords"] == PYTHON_NAMES[version]["keywords"]
    assert names["soft_keywords"] == PYTHON_NAMES[version]["soft_keywords"]
    assert [name for name in names["stdlib"] if PRE_GEN.NAME.fullmatch(name)] == PYTHON_NAMES[version][
        "stdlib"
    ]


def test_the_rules_do_not_ask_the_running_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdlib_module_names", frozenset())
    monkeypatch.setattr(keyword, "softkwlist", [])
    monkeypatch.setattr(keyword, "issoftkeyword", lambda _: False)
    answers = default_answers()
    for value in ("type", "tomllib", "distutils", "match", "annotationlib", "compression"):
        answers["package_name"] = value
        assert len(PRE_GEN.problems(answers)) == 1, value


def test_the_hook_holds_no_jinja_but_its_placeholder() -> None:
    # cookiecutter renders the hook with Jinja: doubled braces in its code would be rendered too.
    source = (ROOT / "hooks" / "pre_gen_project.py").read_text()
    placeholder = "{{ cookiecutter | tojson }}"
    assert source.count(placeholder) == 1
    source = source.replace(placeholder, "")
    assert not re.search(r"\{\{|\{%|\{#", source)


# Through a real bake: exit status, the message on stderr, nothing left on disk.


def bake_output(cookies: Any, tmp_path: Path, **extra: str) -> tuple[Any, Path]:
    result = cookies.bake(extra_context=extra, template=str(ROOT))
    return result, tmp_path / "cookies"


def assert_nothing_left(output: Path) -> None:
    leftovers = [
        path for path in output.rglob("*") if path.is_file() or (path.is_dir() and any(path.iterdir()))
    ]
    assert not leftovers, f"a failed bake left {leftovers}"


@pytest.mark.parametrize(
    ("field", "value", "message"), BAD_VALUES, ids=lambda v: repr(v)[:30] if isinstance(v, str) else None
)
def test_a_bad_value_stops_the_bake(
    cookies: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str], field: str, value: str, message: str
) -> None:
    result, output = bake_output(cookies, tmp_path, **{field: value})
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    stderr = capfd.readouterr().err
    assert f"error: {field} = {PRE_GEN.shown(value)}: " in stderr
    assert message in stderr
    assert_nothing_left(output)


def test_all_problems_are_reported_at_once(
    cookies: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result, output = bake_output(
        cookies, tmp_path, version="latest", author_email="nobody", description="two\nlines"
    )
    assert result.exit_code != 0
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert [line.split(" = ")[0] for line in errors] == [
        "error: author_email",
        "error: version",
        "error: description",
    ]
    assert_nothing_left(output)


def test_answers_reach_the_hooks_as_data(cookies: Any, tmp_path: Path) -> None:
    # Free text that would end a Python string and run code if it were pasted into a hook.
    payload = 'x""" + __import__("os").system("touch PWNED") + r"""\\'
    result = cookies.bake(extra_context={"description": payload}, template=str(ROOT))
    assert result.exit_code == 0, result.exception
    assert not list(tmp_path.rglob("PWNED"))
    assert not Path("PWNED").exists()
    pyproject = tomllib.loads((result.project_path / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == payload


@pytest.mark.parametrize("slug", ["nested/dir", "/absolute/dir", "../escape"])
def test_a_path_as_slug_creates_nothing_anywhere(
    cookies: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str], slug: str
) -> None:
    # cookiecutter creates the project directory before the pre-generation hook runs; the answers
    # are checked before that.
    before = sorted(tmp_path.parent.iterdir())
    result, output = bake_output(cookies, tmp_path, project_slug=slug)
    assert isinstance(result.exception, FailedHookException)
    assert f"error: project_slug = {slug!r}" in capfd.readouterr().err
    assert_nothing_left(output)
    assert sorted(tmp_path.parent.iterdir()) == before
    assert not Path("/absolute").exists()


def test_a_replay_edited_to_a_bad_value_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # A replay reaches the hook without the early check: its answers are not rendered again.
    config = tmp_path / "config.yaml"
    config.write_text(f"replay_dir: {tmp_path / 'replay'}\ncookiecutters_dir: {tmp_path / 'templates'}\n")
    first = Path(
        cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp_path / "first"), config_file=str(config))
    )
    assert first.is_dir()
    replay = tmp_path / "replay" / f"{ROOT.name}.json"
    recorded = json.loads(replay.read_text())
    recorded["cookiecutter"]["connector_name"] = "Bad Name"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(recorded))
    capfd.readouterr()
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(ROOT), replay=str(edited), output_dir=str(tmp_path / "second"), config_file=str(config)
        )
    assert "error: connector_name = 'Bad Name': " in capfd.readouterr().err
    assert_nothing_left(tmp_path / "second")
    # cookiecutter recorded the refused answers before the template ran; the Python API tells the
    # template neither the replay file nor the configuration, so the record stays (README.md).
    assert (
        json.loads((tmp_path / "replay" / edited.name).read_text())["cookiecutter"]["connector_name"]
        == "Bad Name"
    )


def test_post_gen_only_prunes_inside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    with pytest.raises(SystemExit, match="outside"):
        POST_GEN.prune([str(project / ".." / "outside.txt")], str(project))
    assert outside.read_text() == "keep"


def test_the_post_gen_hook_reads_its_answers_without_json(tmp_path: Path) -> None:
    answers = default_answers(connector_kind="inventory", github_actions="no")
    rendered = create_env_with_context({"cookiecutter": answers}).from_string(
        (ROOT / "hooks" / "post_gen_project.py").read_text()
    )
    source = rendered.render(cookiecutter=answers)
    assert "import json" not in source
    namespace: dict[str, Any] = {"__name__": "post_gen_project"}
    exec(compile(source, "post_gen_project.py", "exec"), namespace)
    read = namespace["read_answers"](namespace["ANSWERS"])
    assert read == {
        key: answers[key]
        for key in (
            "connector_name",
            "connector_kind",
            "project_slug",
            "package_name",
            "github_actions",
            "pre_commit",
        )
    }


@pytest.mark.parametrize("value", ['a"b', "a b", "a\nb", "é", ""])
def test_plain_answers_refuse_anything_but_plain_names(value: str) -> None:
    env = create_env_with_context({"cookiecutter": default_answers()})
    with pytest.raises(FailedHookException, match="not a plain name"):
        env.from_string('{{ answers | plain_answers("package_name") }}').render(
            answers={"package_name": value}
        )


def test_post_gen_prune_table_names_files_the_template_has() -> None:
    template = TEMPLATE_FOLDER
    for paths in POST_GEN.ONLY_FOR.values():
        for path in paths:
            assert (template / path.replace("{package_name}", "{{cookiecutter.package_name}}")).exists(), path


@pytest.mark.parametrize("baked", variant_params("executing", "inventory"), indirect=True)
def test_reserved_class_names_cover_what_the_connector_module_defines(baked: Baked) -> None:
    # A connector class named like one of these would replace it in connector.py.
    module = ast.parse((baked.path / "src" / baked.context["package_name"] / "connector.py").read_text())
    names = set()
    for node in ast.walk(module):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node in module.body:
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node in module.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    class_like = {name for name in names if PRE_GEN.CLASS.fullmatch(name)} - {
        baked.context["connector_class"]
    }
    assert class_like <= PRE_GEN.RESERVED_CLASS_NAMES, class_like - PRE_GEN.RESERVED_CLASS_NAMES
