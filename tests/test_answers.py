"""How answers arrive, and what happens to a bad one on each way in.

- Typed at a prompt: checked as soon as it is typed, reported with its rule and suggestion, and
  asked again before the next question.
- Unattended (``--no-input`` with ``key=value``, a config file, a replay): every bad answer is
  reported at once, one ``error:`` line each, exit status 1, nothing on disk, and no replay
  recorded. A name computed from a bad answer is not a second error: it follows as a note.
- Bytes that are not UTF-8, which Python reads as lone surrogates, are refused the same way,
  however they come; a config or replay file that is not UTF-8 at all is cookiecutter's to refuse.
- Values on the command line and in a config file are Jinja templates, as cookiecutter documents;
  one that cannot render is refused cleanly.
- Nothing of cookiecutter's is replaced: the checks run through a Jinja extension, private
  variables and a function called from the project folder's name.
"""

from __future__ import annotations

import ast
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from local_extensions import PYTHON_END_OF_LIFE, oldest_supported_python
from support import COOKIECUTTER, ROOT, describe, fenced_blocks, run, user_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BIN = Path(sys.executable).parent


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A cookiecutter user configuration that keeps replays and clones in the test's folder."""
    return user_config(tmp_path)


def cookiecutter(config: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "cookiecutter"), "--config-file", str(config), *args], cwd=cwd)


def errors_and_notes(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(("error: ", "note: "))]


def assert_nothing_on_disk(folder: Path) -> None:
    assert [path.name for path in folder.iterdir() if path.name != "cookiecutter-config.yaml"] == []


# Typed at a prompt.


class Terminal:
    """cookiecutter's command line in a pseudo-terminal, answered as a person would."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(
            [str(BIN / "cookiecutter"), *args],
            cwd=cwd,
            stdin=child,
            stdout=child,
            stderr=child,
            # rich takes the size of a dumb terminal from COLUMNS and LINES only if both are set.
            env={
                **os.environ,
                "TERM": "dumb",
                "NO_COLOR": "1",
                "COLUMNS": "400",
                "LINES": "50",
                **(env or {}),
            },
            start_new_session=True,
        )
        os.close(child)
        self.screen = ""

    def expect(self, pattern: str, timeout: float = 30) -> str:
        """Read until ``pattern`` shows on the screen after what was read so far; return the new text."""
        start = len(self.screen)
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.screen[start:]):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{pattern!r} did not show; the screen:\n{self.screen}"
            if select.select([self.fd], [], [], remaining)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the other end closed
                    chunk = b""
                assert chunk, f"cookiecutter ended before {pattern!r} showed; the screen:\n{self.screen}"
                self.screen += chunk.decode(errors="replace").replace("\r\n", "\n")
        return self.screen[start:]

    def answer(self, text: str = "") -> None:
        """Type ``text`` and Enter: as UTF-8, but a lone surrogate from ``os.fsdecode`` as its byte."""
        os.write(self.fd, os.fsencode(text) + b"\r")

    def finish(self, timeout: float = 60) -> int:
        try:
            while select.select([self.fd], [], [], timeout)[0]:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self.screen += chunk.decode(errors="replace").replace("\r\n", "\n")
        except OSError:
            pass
        os.close(self.fd)
        return self.process.wait(timeout)


QUESTIONS = [key for key in COOKIECUTTER if not key.startswith("_")]


def question(key: str) -> str:
    """The pattern of the prompt that asks for ``key``, numbered as cookiecutter numbers it."""
    prompt = COOKIECUTTER["__prompts__"][key]
    text = prompt["__prompt__"] if isinstance(prompt, dict) else prompt
    return rf"\[{QUESTIONS.index(key) + 1}/{len(QUESTIONS)}\] {re.escape(text)}"


def test_a_bad_answer_is_reported_as_it_is_typed_and_asked_again(tmp_path: Path, config: Path) -> None:
    terminal = Terminal("--config-file", str(config), "--output-dir", "out", str(ROOT), cwd=tmp_path)
    try:
        terminal.expect(question("connector_name"))
        terminal.answer("My-Docker")
        # Reported with its rule and suggestion, before any other question, and asked again with
        # the suggestion as the default.
        shown = terminal.expect(r"\(my_docker\): ")
        assert "error: connector_name = 'My-Docker': must be lower-case ASCII letters" in shown
        assert "(did you mean 'my_docker'?)" in shown
        assert re.search(question("connector_name"), shown.split("error: ", 1)[1])
        assert "[2/" not in shown
        terminal.answer()  # take the suggestion
        terminal.expect(question("connector_kind"))
        terminal.answer()
        # The names computed from the name now follow the corrected one.
        terminal.expect(question("project_slug") + r".*\(pyinfra-my-docker\): ")
        terminal.answer()
        terminal.expect(question("package_name") + r".*\(pyinfra_my_docker\): ")
        terminal.answer()
        terminal.expect(question("connector_class") + r".*\(MyDockerConnector\): ")
        terminal.answer()
        for key in ("description", "author_name"):
            terminal.expect(question(key))
            terminal.answer()
        terminal.expect(question("author_email"))
        terminal.answer("nobody")
        shown = terminal.expect(r"\(nobody\): ")  # no suggestion: what was typed is the default
        assert "error: author_email = 'nobody': must be an e-mail address" in shown
        terminal.answer("ada@example.com")
        for key in QUESTIONS[QUESTIONS.index("github_owner") : QUESTIONS.index("min_python")]:
            terminal.expect(question(key))
            terminal.answer()
        # Each Python offered once, oldest first, and the default of the day.
        shown = terminal.expect(question("min_python") + rf" \({re.escape(oldest_supported_python())}\): ")
        assert re.findall(r"^ +(3\.\d+) - end of life", shown, flags=re.MULTILINE) == list(PYTHON_END_OF_LIFE)
        terminal.answer("3.9")
        shown = terminal.expect(r"\(3\.9\): ")
        assert "error: min_python = '3.9': must be one of 3.10, 3.11, 3.12, 3.13, 3.14" in shown
        terminal.answer("3.10")  # past its end of life, never the default again, and still offered
        for key in QUESTIONS[QUESTIONS.index("min_python") + 1 :]:
            terminal.expect(question(key))
            terminal.answer()
        status = terminal.finish()
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
    assert status == 0, terminal.screen
    project = tmp_path / "out" / "pyinfra-my-docker"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pyinfra.connectors"] == {
        "my_docker": "pyinfra_my_docker.connector:MyDockerConnector"
    }
    assert pyproject["project"]["authors"][0]["email"] == "ada@example.com"
    assert pyproject["project"]["requires-python"] == ">=3.10"
    # The replay and the project's record hold the answers as corrected, not as first typed.
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert (recorded["connector_name"], recorded["author_email"]) == ("my_docker", "ada@example.com")
    (replay,) = (tmp_path / "replay").glob("*.json")
    assert json.loads(replay.read_text())["cookiecutter"]["connector_name"] == "my_docker"


def test_the_readme_shows_what_the_prompts_show(tmp_path: Path, config: Path) -> None:
    # The prompts and the error, in "Rules for answers", are those of a real run.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (shown,) = [text for language, text in fenced_blocks(readme, "Rules for answers") if language == "text"]
    typed = re.search(r"\): (\S+)$", shown.splitlines()[0])
    assert typed
    terminal = Terminal("--config-file", str(config), "--output-dir", "out", str(ROOT), cwd=tmp_path)
    try:
        terminal.expect(question("connector_name"))
        terminal.answer(typed[1])
        terminal.expect(question("connector_name") + r".*\): ")
    finally:
        terminal.process.kill()
        terminal.finish()
    lines = [line.rstrip() for line in terminal.screen.splitlines() if line.strip()]
    assert lines == [line.rstrip() for line in shown.splitlines()]


# Unattended: one mistake, one error.


def test_a_bad_name_is_one_error_and_the_names_made_from_it_follow_as_notes(
    tmp_path: Path, config: Path
) -> None:
    result = cookiecutter(
        config, "--no-input", "--output-dir", "out", str(ROOT), "connector_name=My-Docker", cwd=tmp_path
    )
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert errors_and_notes(result) == [
        "error: connector_name = 'My-Docker': must be lower-case ASCII letters and digits, words joined by "
        "single underscores, starting with a letter (it becomes @NAME, the entry-point name and the "
        "host-data prefix) (did you mean 'my_docker'?)",
        "note: package_name = 'pyinfra_My-Docker' is computed from connector_name and follows once it is fixed",
        "note: connector_class = 'My-dockerConnector' is computed from connector_name and follows once it is fixed",
    ]
    assert "1 problem(s) found; nothing was generated." in result.stdout
    assert_nothing_on_disk(tmp_path)


def test_a_name_given_as_well_is_its_own_error(tmp_path: Path, config: Path) -> None:
    # Given, not computed: package_name is a second mistake, and is reported as one.
    result = cookiecutter(
        config, "--no-input", "--output-dir", "out", str(ROOT),
        "connector_name=My-Docker", "package_name=My-Package", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, describe(result)
    lines = errors_and_notes(result)
    assert [line.split(" = ")[0] for line in lines] == [
        "error: connector_name",
        "error: package_name",
        "note: connector_class",
    ]
    assert "2 problem(s) found" in result.stdout
    assert_nothing_on_disk(tmp_path)


@pytest.mark.parametrize(("way", "shown"), [("command line", "3.9"), ("config file", "3.1")])
def test_a_python_that_is_not_offered_is_one_error(
    tmp_path: Path, config: Path, way: str, shown: str
) -> None:
    # min_python is the template's to check, not a cookiecutter choice (which cookiecutter refuses
    # with a traceback on its command line, and ignores in a config file).
    if way == "command line":
        given = ["min_python=3.9"]
    else:
        config.write_text(config.read_text() + "default_context:\n  min_python: 3.10\n")  # YAML's 3.1
        given = []
    result = cookiecutter(config, "--no-input", "--output-dir", "out", str(ROOT), *given, cwd=tmp_path)
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    assert errors_and_notes(result) == [
        f"error: min_python = '{shown}': must be one of 3.10, 3.11, 3.12, 3.13, 3.14"
    ]
    assert_nothing_on_disk(tmp_path)


# Bytes that are not UTF-8, as a terminal or a file in another encoding (Latin-1, ...) gives. Python
# reads byte 0xNN that is not UTF-8 as the lone surrogate U+DCNN (os.fsdecode), which no UTF-8 file
# can hold; a \uDCNN escape in YAML or JSON gives the same.

NOT_UTF8 = {
    "author_email": os.fsdecode(b"ren\xe9@example.com"),  # ASCII only, by its own rule
    "description": os.fsdecode(b"\x9b31m"),  # a terminal's CSI, in Latin-1
    "author_name": os.fsdecode(b"Ren\xe9"),  # René, in Latin-1
}
NOT_UTF8_RULE = "must be UTF-8 text (each \\udcNN is a byte 0xNN that is not UTF-8"


def assert_refused_as_not_utf8(result: subprocess.CompletedProcess[str], *more: str) -> None:
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    lines = errors_and_notes(result)
    assert [line.split(": must ", 1)[0] for line in lines] == [
        "error: author_email = 'ren\\udce9@example.com'",
        "error: description = '\\udc9b31m'",
        "error: author_name = 'Ren\\udce9'",
        *(f"error: {answer}" for answer in more),
    ], describe(result)
    assert all(NOT_UTF8_RULE in line for line in lines[1:]), describe(result)
    assert f"{3 + len(more)} problem(s) found; nothing was generated." in result.stdout


def test_bytes_that_are_not_utf8_on_the_command_line_are_refused_cleanly(
    tmp_path: Path, config: Path
) -> None:
    # As a shell passes author_name=$'Ren\xe9': cookiecutter crashed writing the files, leaving a
    # half-made project with its .cruft.json behind.
    given = [f"{key}={value}" for key, value in NOT_UTF8.items()]
    result = cookiecutter(config, "--no-input", "--output-dir", "out", str(ROOT), *given, cwd=tmp_path)
    assert_refused_as_not_utf8(result)
    assert_nothing_on_disk(tmp_path)  # no project, and no replay


def test_bytes_that_are_not_utf8_in_a_config_file_are_refused_cleanly(tmp_path: Path) -> None:
    # cookiecutter reads the file as UTF-8; YAML's escapes can still give a lone surrogate.
    config = user_config(tmp_path, **NOT_UTF8)
    assert '"Ren\\uDCE9"' in config.read_text(encoding="utf-8")
    result = cookiecutter(config, "--no-input", "--output-dir", "out", str(ROOT), cwd=tmp_path)
    assert_refused_as_not_utf8(result)
    assert_nothing_on_disk(tmp_path)


def test_a_refused_replay_makes_nothing_and_records_nothing(tmp_path: Path, config: Path) -> None:
    answers = prompt_for_config(generate_context(str(ROOT / "cookiecutter.json")), no_input=True)
    given = tmp_path / "given"
    given.mkdir()
    replay = given / "refused.json"
    # \udce9 as an escape; a key the template does not ask is recorded in .cruft.json all the same.
    not_asked = {"not_asked": os.fsdecode(b"\xe9t\xe9")}
    replay.write_text(json.dumps({"cookiecutter": {**answers, **NOT_UTF8, **not_asked}}))
    result = cookiecutter(
        config, "--replay-file", str(replay), "--output-dir", "out", str(ROOT), cwd=tmp_path
    )
    assert_refused_as_not_utf8(result, "not_asked = '\\udce9t\\udce9'")
    assert not (tmp_path / "out").exists()
    # cookiecutter writes the replayed answers to its replay_dir before the template runs: the
    # refusal removes them (cookiecutter leaves the folder it made for them).
    assert list((tmp_path / "replay").iterdir()) == []
    # The file replayed is never removed, even where it is cookiecutter's record itself.
    recorded = tmp_path / "replay" / replay.name
    recorded.write_bytes(replay.read_bytes())
    result = cookiecutter(
        config, "--replay-file", str(recorded), "--output-dir", "out", str(ROOT), cwd=tmp_path
    )
    assert_refused_as_not_utf8(result, "not_asked = '\\udce9t\\udce9'")
    assert [path.name for path in (tmp_path / "replay").iterdir()] == [replay.name]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["config file", "replay file"])
def test_a_config_or_replay_file_that_is_not_utf8_is_cookiecutters_to_refuse(
    tmp_path: Path, config: Path, kind: str
) -> None:
    # cookiecutter reads both files as UTF-8 before the template runs any code: its own
    # UnicodeDecodeError and exit status 1, with nothing written (README.md, "Rules for answers").
    given = tmp_path / "given"
    given.mkdir()
    if kind == "config file":
        config = given / "config.yaml"
        config.write_bytes(
            b"replay_dir: %s\ndefault_context:\n  author_name: Ren\xe9\n" % bytes(tmp_path / "replay")
        )
        args = ["--no-input"]
    else:
        (given / "latin-1.json").write_bytes(b'{"cookiecutter": {"author_name": "Ren\xe9"}}')
        args = ["--replay-file", str(given / "latin-1.json")]
    result = cookiecutter(config, *args, "--output-dir", "out", str(ROOT), cwd=tmp_path)
    assert result.returncode == 1, describe(result)
    assert "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9" in result.stderr, describe(result)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "replay").exists()


def test_bytes_typed_that_are_not_utf8_are_refused_and_asked_again(tmp_path: Path, config: Path) -> None:
    # Where Python reads the terminal with surrogateescape, as in the C locale, such a byte reaches
    # the checks (README.md, "Rules for answers").
    terminal = Terminal(
        "--config-file", str(config), "--output-dir", "out", str(ROOT),
        cwd=tmp_path, env={"LC_ALL": "C", "PYTHONIOENCODING": ""},
    )  # fmt: skip
    try:
        for key in QUESTIONS[: QUESTIONS.index("author_name")]:
            terminal.expect(question(key))
            terminal.answer()
        terminal.expect(question("author_name"))
        terminal.answer(NOT_UTF8["author_name"])
        shown = terminal.expect(question("author_name"))
        assert f"error: author_name = 'Ren\\udce9': {NOT_UTF8_RULE}" in shown
        assert question("author_email") not in shown
    finally:
        terminal.process.kill()
        terminal.finish()
    assert_nothing_on_disk(tmp_path)


def test_bytes_typed_where_python_reads_the_terminal_strictly_are_cookiecutters_to_refuse(
    tmp_path: Path, config: Path
) -> None:
    # Where Python reads it strictly (its default in a UTF-8 locale such as en_US.UTF-8), cookiecutter's
    # prompt fails to read them, before the template sees the answer (README.md, "Rules for answers").
    terminal = Terminal(
        "--config-file", str(config), "--output-dir", "out", str(ROOT),
        cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8:strict"},
    )  # fmt: skip
    try:
        terminal.expect(question("connector_name"))
        terminal.answer(NOT_UTF8["author_name"])
        status = terminal.finish()
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.finish()
    assert status == 1, terminal.screen
    assert "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9" in terminal.screen
    assert_nothing_on_disk(tmp_path)


# Values on the command line and in a config file are templates.


def test_values_on_the_command_line_and_in_a_config_file_are_templates(tmp_path: Path, config: Path) -> None:
    config = user_config(tmp_path, author_name="{{ cookiecutter.connector_name | upper }} team")
    result = cookiecutter(
        config, "--no-input", "--output-dir", "out", str(ROOT), "connector_name=acme_cloud",
        "description={{ cookiecutter.connector_name }} via {% raw %}{{ braces }}{% endraw %}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, describe(result)
    project = tomllib.loads((tmp_path / "out" / "pyinfra-acme-cloud" / "pyproject.toml").read_text())[
        "project"
    ]
    assert project["description"] == "acme_cloud via {{ braces }}"
    assert project["authors"][0]["name"] == "ACME_CLOUD team"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{% if %}", "error: '{% if %}' is not a valid Jinja template: "),
        ("{{ 7 * 7 }} and {{", "error: '{{ 7 * 7 }} and {{' is not a valid Jinja template: "),
        ("{# open", "error: '{# open' is not a valid Jinja template: "),
    ],
)
def test_a_value_that_cannot_render_is_refused_cleanly(
    tmp_path: Path, config: Path, value: str, message: str
) -> None:
    result = cookiecutter(
        config, "--no-input", "--output-dir", "out", str(ROOT), f"description={value}", cwd=tmp_path
    )
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    assert errors_and_notes(result) == [
        line for line in result.stderr.splitlines() if line.startswith(message)
    ]
    assert len(errors_and_notes(result)) == 1, describe(result)
    assert "{% raw %}" in result.stdout  # how to give the text as it is
    assert_nothing_on_disk(tmp_path)


def test_a_value_naming_what_does_not_exist_is_refused_by_cookiecutter(tmp_path: Path, config: Path) -> None:
    # cookiecutter's own report of an undefined variable: exit status 1, no traceback.
    result = cookiecutter(
        config,
        "--no-input",
        "--output-dir",
        "out",
        str(ROOT),
        "description={{ cookiecutter.nope }}",
        cwd=tmp_path,
    )
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert "Unable to render variable 'description'" in result.stdout
    assert_nothing_on_disk(tmp_path)


def test_recorded_answers_render_back_to_themselves(tmp_path: Path, config: Path) -> None:
    # cruft update hands the recorded answers back to cookiecutter as values to render: text with
    # Jinja delimiters in it is recorded so that it renders as that text again.
    literal = '{{ x }} {% if %} {# c #} "q" \\ é 🚀'
    result = cookiecutter(
        config, "--no-input", "--output-dir", "out", str(ROOT),
        f"description={{% raw %}}{literal}{{% endraw %}}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, describe(result)
    recorded = json.loads((tmp_path / "out" / "pyinfra-acme" / ".cruft.json").read_text())["context"][
        "cookiecutter"
    ]
    context = generate_context(str(ROOT / "cookiecutter.json"), extra_context=recorded)
    answers = prompt_for_config(context, no_input=True)
    assert answers["description"] == literal
    assert {key: answers[key] for key in recorded if not key.startswith("_")} == {
        key: value if key != "description" else literal
        for key, value in recorded.items()
        if not key.startswith("_")
    }


# Nothing replaced.


def test_the_extensions_replace_nothing_of_another_module() -> None:
    # Assigning to an attribute of an imported module (cookiecutter.prompt.render_variable = ...)
    # would change cookiecutter for everything else in the process.
    tree = ast.parse((ROOT / "local_extensions.py").read_text())
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    for node in ast.walk(tree):
        targets: list[Any] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute):
                base = target.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                assert not (isinstance(base, ast.Name) and base.id in imported), ast.unparse(target)
