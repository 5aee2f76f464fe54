"""Hostile input never produces a broken package or a half-written directory.

Free text is accepted and escaped wherever it is embedded; names are refused with a message; and
whatever is drawn from wide alphabets either bakes a package whose files all parse or is refused,
never a crash and never anything left on disk.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.hooks import run_script_with_context
from cookiecutter.main import cookiecutter
from hatchling.metadata.core import ProjectMetadata
from hatchling.metadata.spec import (
    DEFAULT_METADATA_VERSION,
    get_core_metadata_constructors,
    project_metadata_from_core_metadata,
)
from hatchling.plugin.manager import PluginManager
from hypothesis import HealthCheck, event, given, settings, strategies as st
from jinja2 import Environment
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from test_hooks import PRE_GEN, default_answers
from validate_pyproject import api as validate_pyproject

from matrix import BAD_VALUES, FREE_TEXT, GOOD_VALUES
from support import COOKIECUTTER, ROOT, describe, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# Accepted but unusual: each hostile free-text bake below also uses one of these.
UNUSUAL_EMAILS = [value for field, value in GOOD_VALUES if field == "author_email"]
UNUSUAL_URLS = [value for field, value in GOOD_VALUES if field == "repository_url"]


def bake(output: Path, config: Path, **answers: str) -> Path:
    """Bake with ``answers`` taken exactly as they are.

    cookiecutter renders values given on its command line as templates, so each is given as a
    template that renders as the value itself (as a project's recorded answers are).
    """
    given = {key: EXTENSIONS._template_of(value) for key, value in answers.items()}
    return Path(
        cookiecutter(
            str(ROOT), no_input=True, output_dir=str(output), config_file=str(config), extra_context=given
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


# CommonMark, with the tables and strikethrough of GitHub's and PyPI's renderers.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _template_extensions() -> Any:
    spec = importlib.util.spec_from_file_location("template_extensions", ROOT / "local_extensions.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXTENSIONS = _template_extensions()
MARKDOWN_TEXT = Environment(extensions=[EXTENSIONS.markdown_text]).filters["markdown_text"]


def hrefs(rendered: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'<a href="([^"]*)"', rendered)]


def check_markdown(project: Path, project_table: dict[str, Any]) -> None:
    """The Markdown files show the answers as text, and their links go where the answers say.

    The README is the package's page on PyPI too (``readme`` in pyproject.toml).
    """
    url = project_table["urls"]["Homepage"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    rendered = MARKDOWN.render(readme).split("\n")
    assert rendered[:2] == [
        f"<h1>{escapeHtml(project_table['name'])}</h1>",
        f"<p>{escapeHtml(project_table['description'])}</p>",
    ]
    sections = [f"<h2>{escapeHtml(line[3:])}</h2>" for line in readme.splitlines() if line.startswith("## ")]
    assert [line for line in rendered if line.startswith("<h2>")] == sections
    security = MARKDOWN.render((project / "SECURITY.md").read_text(encoding="utf-8"))
    assert f"{url}/security/advisories/new" in hrefs(security)
    shown = html.unescape(re.sub(r"<[^>]*>", "", security))
    assert f"e-mail to {project_table['authors'][0]['email']}. Say" in shown
    changelog = MARKDOWN.render((project / "CHANGELOG.md").read_text(encoding="utf-8"))
    version = project_table["version"]
    assert hrefs(changelog)[-2:] == [f"{url}/compare/v{version}...HEAD", f"{url}/releases/tag/v{version}"]


def check_metadata(project: Path, project_table: dict[str, Any]) -> None:
    """hatchling writes the package metadata, as a build would, and the author's address survives."""
    metadata = ProjectMetadata(str(project), PluginManager())
    core = get_core_metadata_constructors()[DEFAULT_METADATA_VERSION](metadata)
    authors = project_metadata_from_core_metadata(core)["authors"]
    assert [author["email"] for author in authors] == [project_table["authors"][0]["email"]]


def check_package(project: Path, answers: dict[str, str]) -> None:
    """Every file parses, the answers round-trip where they are data, the metadata is valid, and
    the Markdown shows the answers as text."""
    pyproject_text = (project / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = tomllib.loads(pyproject_text)
    validate_pyproject.Validator()(pyproject)
    project_table = pyproject["project"]
    as_data = {
        "description": project_table["description"],
        "author_name": project_table["authors"][0]["name"],
        "author_email": project_table["authors"][0]["email"],
        "repository_url": project_table["urls"]["Homepage"],
    }
    for field, value in answers.items():
        assert as_data.get(field, value) == value, field
    check_markdown(project, project_table)
    check_metadata(project, project_table)
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


@pytest.mark.parametrize("index", range(len(FREE_TEXT)), ids=lambda index: repr(FREE_TEXT[index])[:40])
def test_hostile_free_text_bakes_a_package_that_builds(
    index: int, tmp_path: Path, cookiecutter_config: Path
) -> None:
    value = FREE_TEXT[index]
    answers = {
        "description": value,
        "author_name": value,
        "author_email": UNUSUAL_EMAILS[index % len(UNUSUAL_EMAILS)],
        "repository_url": UNUSUAL_URLS[index % len(UNUSUAL_URLS)],
        "license": "MIT",
    }
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
# Any bytes, as Python reads them from its command line or a terminal: those that are not UTF-8 as
# lone surrogates, which no file can hold.
FROM_BYTES = st.binary(min_size=1, max_size=40).map(os.fsdecode)
NAME_LIKE = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,6}){0,2}\Z"), st.text(WIDE, max_size=40), FROM_BYTES
)
FREE = st.one_of(st.text(WIDE, min_size=1, max_size=80), st.sampled_from(FREE_TEXT), FROM_BYTES)


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
            "author_email": st.one_of(
                st.emails(), st.from_regex(PRE_GEN.EMAIL, fullmatch=True), st.text(WIDE, max_size=40)
            ),
            "github_owner": st.one_of(
                st.from_regex(r"\A[A-Za-z0-9](-?[A-Za-z0-9]){0,12}\Z"), st.text(WIDE, max_size=40)
            ),
            "repository_url": st.one_of(
                st.from_regex(PRE_GEN.URL, fullmatch=True), st.text(WIDE, max_size=60)
            ),
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
            event("refused")
            return
        event(f"baked with {len(answers)} answer(s)")
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


# Free text in Markdown: CommonMark shows exactly the characters given, as one paragraph.

ONE_LINE = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t"), min_size=1, max_size=60
).filter(lambda text: text.strip() and not PRE_GEN.LINE_BREAKS.search(text))


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(ONE_LINE, st.sampled_from(FREE_TEXT), st.text("\\`*_[]<>&~|$!#+=-.)( 0123456789\t", min_size=1))
)
def test_markdown_text_shows_any_one_line_text_as_it_is(text: str) -> None:
    if not text.strip():
        return
    assert MARKDOWN.render(MARKDOWN_TEXT(text)) == f"<p>{escapeHtml(text)}</p>\n"


@pytest.mark.parametrize(
    "text", ["<!--", "<!-- a comment -->", "</p><h1>x", "[link](https://example.com)", "**bold**"]
)
def test_markdown_in_a_description_shows_as_text(
    text: str, tmp_path: Path, cookiecutter_config: Path
) -> None:
    # Unescaped, "<!--" would hide the rest of the README, here and on PyPI.
    project = bake(tmp_path / "out", cookiecutter_config, description=text)
    check_package(project, {"description": text})


# Answers cannot set what belongs to the template, whichever way they come.


def cookiecutter_cli(config: Path, *args: str, cwd: Path) -> Any:
    return run([sys.executable, "-m", "cookiecutter", "--config-file", str(config), *args], cwd=cwd)


def assert_refused(result: Any, *errors: str) -> None:
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(":", 2)[1].strip() for line in lines] == list(errors), describe(result)


def test_answers_cannot_set_the_template_own_values(tmp_path: Path, cookiecutter_config: Path) -> None:
    result = cookiecutter_cli(
        cookiecutter_config, "--no-input", "--output-dir", "out", str(ROOT),
        "__template_version=9.9.9", "__pyinfra_min=1.0", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, describe(result)
    project = tmp_path / "out" / "pyinfra-acme"
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["__template_version"] == COOKIECUTTER["__template_version"]
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pyinfra>={COOKIECUTTER['__pyinfra_min']},<4" in dependencies


def test_a_replay_with_bad_answers_is_refused_before_anything_is_written(
    tmp_path: Path, cookiecutter_config: Path
) -> None:
    # A replay's answers are not rendered again, so checked_answers does not see them: they are
    # checked right before cookiecutter makes the project directory.
    first = cookiecutter_cli(
        cookiecutter_config, "--no-input", "--output-dir", str(tmp_path / "first"), str(ROOT), cwd=tmp_path
    )
    assert first.returncode == 0, describe(first)
    replay_dir = Path(yaml.safe_load(cookiecutter_config.read_text())["replay_dir"])
    recorded = json.loads((replay_dir / f"{ROOT.name}.json").read_text())
    recorded["cookiecutter"].update(
        project_slug="a/b",
        connector_kind="both",
        license="WTFPL",
        min_python="3.9",
        github_actions="maybe",
        pre_commit="maybe",
    )
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(recorded))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = cookiecutter_cli(
        cookiecutter_config, "--replay-file", str(edited), "--output-dir", "out", str(ROOT), cwd=scratch
    )
    assert_refused(
        result,
        "project_slug = 'a/b'",
        "connector_kind = 'both'",
        "license = 'WTFPL'",
        "min_python = '3.9'",
        "github_actions = 'maybe'",
        "pre_commit = 'maybe'",
    )
    assert list(scratch.iterdir()) == []
    assert not (replay_dir / edited.name).exists()  # cookiecutter's record of the refused answers


def test_a_config_file_cannot_give_a_yes_no_answer_that_is_neither(
    tmp_path: Path, cookiecutter_config: Path
) -> None:
    config = tmp_path / "config.yaml"
    settings_ = yaml.safe_load(cookiecutter_config.read_text())
    config.write_text(yaml.safe_dump({**settings_, "default_context": {"github_actions": 5}}))
    result = cookiecutter_cli(config, "--no-input", "--output-dir", "out", str(ROOT), cwd=tmp_path)
    assert_refused(result, "github_actions = '5'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("connector_kind=both", "both provided for choice variable connector_kind"),
        ("github_actions=maybe", "maybe provided for variable github_actions could not be converted"),
    ],
)
def test_cookiecutter_refuses_an_unknown_choice_on_its_command_line(
    tmp_path: Path, cookiecutter_config: Path, answer: str, message: str
) -> None:
    # cookiecutter itself refuses these, before the template is read: its own traceback, exit
    # status 1 and nothing on disk (README.md, "Rules for answers").
    result = cookiecutter_cli(
        cookiecutter_config, "--no-input", "--output-dir", "out", str(ROOT), answer, cwd=tmp_path
    )
    assert result.returncode == 1, describe(result)
    assert message in result.stderr, describe(result)
    assert list(tmp_path.iterdir()) == []
