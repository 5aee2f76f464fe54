"""Hostile input never produces a broken package or a half-written directory.

Free text is accepted and escaped wherever it is embedded; names are refused with a message; and
whatever is drawn from wide alphabets either bakes a package whose files all parse or is refused,
never a crash and never anything left on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.hooks import run_script_with_context
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, given, settings, strategies as st
from test_hooks import BAD_VALUES, PRE_GEN, default_answers
from validate_pyproject import api as validate_pyproject

from support import ROOT, describe, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Free text the template must accept and embed without breaking any file.
FREE_TEXT = [
    "it's 'single' quoted",
    'a "double" quoted "word"',
    "back\\slash, \\\\ two, and a trailing \\",
    "C:\\Users\\ada\\new\\table",
    "{{ cookiecutter.connector_name }}",
    "{{ 7 * 7 }} and {{",
    "{% if true %}yes{% endif %} and {%",
    "{# a Jinja comment #}",
    "{% raw %}{{ raw }}{% endraw %}",
    "$(touch /tmp/pwned) and ${HOME} and $HOME",
    "`id` and backticks",
    "\"\"\"triple\"\"\" and '''single triple'''",
    "ünïcødé, 漢字 and Ελληνικά",
    "right-to-left: עברית مرحبا \u202eoverride\u202c",
    "emoji 🚀✨ and a flag 🇺🇦 and 👩‍💻",
    "zero\u200bwidth and non\u00a0breaking",
    "tab\tinside and\tagain",
    "  leading and trailing spaces  ",
    "# not a comment; [not.a.table] key = 'value'",
    "- yaml: {flow: mapping} &anchor *alias ---",
    "<script>alert('x')</script> & <b>html</b>",
    "%s %(name)s {0} {name} format strings",
    'O\'Brien, Jane "JJ" <jane@example.com>',
    "semi;colon | pipe > redirect < input & background",
    "x" * 500,
]


def bake(output: Path, config: Path, **answers: str) -> Path:
    return Path(
        cookiecutter(
            str(ROOT), no_input=True, output_dir=str(output), config_file=str(config), extra_context=answers
        )
    )


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user configuration that keeps cookiecutter's replay files out of the home directory."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")})
    )
    return config


def check_package(project: Path, answers: dict[str, str]) -> None:
    """Every file parses, the answers round-trip where they are data, and the metadata is valid."""
    pyproject_text = (project / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = tomllib.loads(pyproject_text)
    validate_pyproject.Validator()(pyproject)
    if "description" in answers:
        assert pyproject["project"]["description"] == answers["description"]
        assert answers["description"] in (project / "README.md").read_text(encoding="utf-8")
    if "author_name" in answers:
        assert pyproject["project"]["authors"][0]["name"] == answers["author_name"]
    for path in project.rglob("*"):
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        elif path.suffix in (".yml", ".yaml"):
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


def test_there_are_at_least_20_hostile_free_text_values() -> None:
    assert len(FREE_TEXT) >= 20


def test_there_are_at_least_40_malformed_values_across_all_fields() -> None:
    assert len(BAD_VALUES) >= 40
    assert {field for field, _, _ in BAD_VALUES} == {field for field, *_ in PRE_GEN.RULES}


@pytest.mark.parametrize("value", FREE_TEXT, ids=lambda value: repr(value)[:40])
def test_hostile_free_text_bakes_a_package_that_builds(
    value: str, tmp_path: Path, cookiecutter_config: Path
) -> None:
    answers = {"description": value, "author_name": value, "license": "MIT"}
    project = bake(tmp_path / "out", cookiecutter_config, **answers)
    check_package(project, answers)
    assert value in (project / "LICENSE").read_text(encoding="utf-8")
    result = run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(project),
        ]
    )
    assert result.returncode == 0, describe(result)
    assert len(list((tmp_path / "dist").glob("*.whl"))) == 1


def test_line_breaks_in_a_one_line_field_are_refused(tmp_path: Path, cookiecutter_config: Path) -> None:
    # The rule, decided and documented: refused with a suggestion, not silently normalised.
    for value in ("two\nlines", "carriage\rreturn", "line\u2028separator"):
        with pytest.raises(FailedHookException):
            bake(tmp_path / "out", cookiecutter_config, description=value)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def tree(path: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``path`` with its mode and content hash."""
    return {
        str(item.relative_to(path)): (
            item.stat().st_mode,
            hashlib.sha256(item.read_bytes()).hexdigest() if item.is_file() else "",
        )
        for item in sorted(path.rglob("*"))
    }


def test_a_refused_bake_over_an_existing_project_leaves_it_exactly_as_it_was(
    tmp_path: Path, cookiecutter_config: Path
) -> None:
    existing = bake(tmp_path / "out", cookiecutter_config)
    (existing / "local-change.txt").write_text("mine")
    before = tree(tmp_path / "out")
    mtime = existing.stat().st_mtime_ns
    result = run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input", "--overwrite-if-exists",
            "--config-file", str(cookiecutter_config), "--output-dir", str(tmp_path / "out"), str(ROOT),
            "version=not a version",
        ]
    )  # fmt: skip
    assert result.returncode != 0, describe(result)
    assert "error: version = 'not a version': must be a PEP 440 version" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert tree(tmp_path / "out") == before
    assert existing.stat().st_mtime_ns == mtime


def test_the_command_line_exits_non_zero_with_one_line_per_problem(
    tmp_path: Path, cookiecutter_config: Path
) -> None:
    result = run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(cookiecutter_config),
            "--output-dir", str(tmp_path), str(ROOT), "author_email=nobody", "version=latest",
        ]
    )  # fmt: skip
    assert result.returncode == 1, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(" = ")[0] for line in errors] == ["error: author_email", "error: version"]
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


# Property: draws from wide alphabets either bake a package whose files all parse, or are refused
# with a message; never a crash, a traceback or a partial directory.

WIDE = st.characters(exclude_categories=("Cs",))  # any code point a str can hold in a file
NAME_LIKE = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,6}){0,2}\Z"), st.text(WIDE, max_size=40)
)
FREE = st.one_of(st.text(WIDE, min_size=1, max_size=80), st.sampled_from(FREE_TEXT))


@settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    answers=st.fixed_dictionaries(
        {},
        optional={
            "connector_name": NAME_LIKE,
            "package_name": NAME_LIKE,
            "project_slug": NAME_LIKE,
            "connector_class": st.one_of(
                st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,12}\Z"), st.text(WIDE, max_size=30)
            ),
            "description": FREE,
            "author_name": FREE,
            "version": st.one_of(
                st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}\Z"), st.text(WIDE, max_size=12)
            ),
        },
    )
)
def test_any_answers_bake_a_valid_package_or_are_refused_cleanly(
    answers: dict[str, str], cookiecutter_config: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "out"
        output.mkdir()
        try:
            project = bake(output, cookiecutter_config, **answers)
        except FailedHookException:
            captured = capfd.readouterr()
            assert "error: " in captured.err, f"refused without a message: {answers!r}"
            assert "Traceback" not in captured.out + captured.err
            assert list(output.iterdir()) == [], f"a refused bake left {list(output.iterdir())}"
            return
        check_package(project, answers)
        assert os.listdir(output) == [project.name]


def test_the_hook_itself_reports_problems_without_a_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The pre-generation hook, rendered and run the way cookiecutter runs it (replays reach it
    # without the early check).
    answers = default_answers()
    answers.update(connector_name="Bad Name", connector_kind="nope")
    with pytest.raises(FailedHookException):
        run_script_with_context(
            str(ROOT / "hooks" / "pre_gen_project.py"), str(tmp_path), {"cookiecutter": answers}
        )
    err = capfd.readouterr().err
    assert "error: connector_name = 'Bad Name': " in err
    assert "error: connector_kind = 'nope': must be one of executing, inventory" in err
    assert "Traceback" not in err
