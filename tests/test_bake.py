"""Every supported combination bakes into a complete, well-formed project."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from cookiecutter.hooks import run_script_with_context

from local_extensions import PYTHON_END_OF_LIFE, oldest_supported_python
from matrix import VARIANTS, variant_params
from support import COOKIECUTTER, PYINFRA_MIN, PYTHON_MAX, ROOT, TEMPLATE_FOLDER, TEMPLATE_FOLDER_NAME, Baked

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Jinja left over; GitHub Actions' own ${{ ... }} expressions are meant to stay.
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.")

EXECUTING_ONLY = [
    "src/{package_name}/_exec.py",
    "src/{package_name}/_files.py",
    "src/{package_name}/_process.py",
    "src/{package_name}/sh/guard.sh",
    "src/{package_name}/sh/put.sh",
    "src/{package_name}/sh/stop.sh",
    "tests/contract/test_execution.py",
    "tests/contract/test_execution_cli.py",
    "tests/test_connector.py",
    "tests/test_machinery.py",
]
INVENTORY_ONLY = [
    "src/{package_name}/_ssh_data.py",
    "tests/test_source.py",
    "tests/hosts.json",
    "tests/bad-hosts.json",
]
OPTIONAL = {
    "github_actions": [".github/workflows/ci.yml", ".github/workflows/release.yml", ".github/dependabot.yml"],
    "pre_commit": [".pre-commit-config.yaml"],
}
# What an option that is off must leave no trace of.
TRACES = {
    "github_actions": re.compile(
        r"\.github/|GitHub Actions|[Ww]orkflow|dependabot|zizmor|check-jsonschema|trusted publish|attest"
    ),
    "pre_commit": re.compile(r"pre-commit"),
}
EVERY_KIND = [
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "LICENSE",
    ".gitignore",
    "src/{package_name}/__init__.py",
    "src/{package_name}/connector.py",
    "src/{package_name}/py.typed",
    "tests/conftest.py",
    "tests/connector-contract.toml",
    "tests/contract/__init__.py",
    "tests/contract/conftest.py",
    "tests/contract/plugin.py",
    "tests/contract/report_to_markdown.py",
    "tests/contract/test_inventory.py",
]


def test_every_choice_is_covered_by_a_variant() -> None:
    for key, value in COOKIECUTTER.items():
        if key.startswith("_"):
            continue
        choices = value if isinstance(value, list) else [True, False] if isinstance(value, bool) else None
        default = choices[0] if isinstance(value, list) else value
        if key == "min_python":  # one of the Pythons offered, the default of the day
            assert value == "{{ oldest_supported_python() }}"
            choices, default = list(PYTHON_END_OF_LIFE), oldest_supported_python()
        if choices:
            covered = {variant.get(key, default) for variant in VARIANTS.values()}
            assert covered == set(choices), f"no variant bakes {key} = {set(choices) - covered}"


@pytest.mark.parametrize(
    ("day", "default"),
    [
        (date(2026, 10, 31), "3.10"),  # the last day of 3.10's last month
        (date(2026, 11, 1), "3.11"),
        (date(2027, 10, 31), "3.11"),
        (date(2027, 11, 1), "3.12"),
        (date(2030, 10, 31), "3.14"),
        (date(2031, 6, 1), "3.14"),  # all past their end: the newest offered, until a release adds more
        (date(2024, 1, 1), "3.10"),
    ],
)
def test_the_default_oldest_python_is_the_oldest_supported_upstream_that_day(day: date, default: str) -> None:
    assert oldest_supported_python(day) == default


def test_the_python_question_lists_the_end_of_life_table() -> None:
    # Each Python offered once, oldest first, with the month its support ends.
    assert COOKIECUTTER["__python_max"] == list(PYTHON_END_OF_LIFE)[-1]
    listed = re.findall(
        r"^    (3\.\d+) - end of life: (\w+ \d{4})$", COOKIECUTTER["__prompts__"]["min_python"], re.M
    )
    assert listed == [
        (version, date(year, month, 1).strftime("%B %Y"))
        for version, (year, month) in PYTHON_END_OF_LIFE.items()
    ]


@pytest.mark.parametrize("baked", variant_params("executing", "inventory"), indirect=True)
def test_a_bake_defaults_to_the_oldest_python_supported_today(baked: Baked) -> None:
    today = oldest_supported_python()
    assert baked.context["min_python"] == today
    assert f'requires-python = ">={today}"' in (baked.path / "pyproject.toml").read_text(encoding="utf-8")


def test_no_variable_is_named_template() -> None:
    assert not {"template", "templates"} & set(COOKIECUTTER)


def test_every_prompt_has_text() -> None:
    prompts = COOKIECUTTER["__prompts__"]
    for key, value in COOKIECUTTER.items():
        if key.startswith("_"):
            continue
        assert key in prompts, f"{key} has no prompt text"
        if isinstance(value, list):  # prompt texts are looked up by the rendered choice
            assert set(value) <= set(prompts[key]), f"{key}: a choice has no prompt text"


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_nothing_is_left_unrendered(baked: Baked) -> None:
    for path in baked.text_files():
        relative = path.relative_to(baked.path)
        assert not UNRENDERED.search(str(relative)), f"unrendered file name: {relative}"
        text = path.read_text(encoding="utf-8")
        match = UNRENDERED.search(text)
        assert not match, f"{relative}: unrendered {text[max(0, match.start() - 40) : match.end() + 40]!r}"


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_python_files_compile(baked: Baked) -> None:
    files = [path for path in baked.text_files() if path.suffix == ".py"]
    assert files
    for path in files:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_toml_and_json_files_parse(baked: Baked) -> None:
    import json

    for path in baked.text_files():
        if path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_files_of_the_chosen_options_and_no_others(baked: Baked) -> None:
    present = EVERY_KIND + (EXECUTING_ONLY if baked.kind == "executing" else INVENTORY_ONLY)
    absent = list(INVENTORY_ONLY if baked.kind == "executing" else EXECUTING_ONLY)
    for option, paths in OPTIONAL.items():
        (present if baked.has(option) else absent).extend(paths)
    for path in present:
        assert (baked.path / path.format(**baked.context)).is_file(), f"missing {path}"
    for path in absent:
        assert not (baked.path / path.format(**baked.context)).exists(), f"{path} should have been pruned"


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_an_option_that_is_off_leaves_no_trace(baked: Baked) -> None:
    off = [option for option in TRACES if not baked.has(option)]
    for path in baked.text_files():
        relative = path.relative_to(baked.path)
        text = f"{relative}\n{path.read_text(encoding='utf-8')}"
        for option in off:
            found = TRACES[option].search(text)
            assert not found, f"{option} is off, but {relative} mentions {found[0]!r}"


@pytest.mark.parametrize(
    "baked", variant_params("inventory", "inventory-named", "inventory-mpl"), indirect=True
)
def test_inventory_kind_has_no_trace_of_execution(baked: Baked) -> None:
    words = re.compile(r"run_shell_command|put_file|get_file|target_argv|_process|handles_execution = True")
    # The portable contract reads every key of its configuration; the rest of the project does not
    # mention what only executing connectors have.
    outside_the_contract = re.compile(r"sudo|su_user|_timeout|unreachable_target|many_hosts_target")
    for path in baked.text_files():
        text = path.read_text(encoding="utf-8")
        assert not words.search(text), f"{path.relative_to(baked.path)} mentions {words.search(text)[0]!r}"
        if "contract" not in path.relative_to(baked.path).parts:
            found = outside_the_contract.search(text)
            assert not found, f"{path.relative_to(baked.path)} mentions {found[0]!r}"


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_pyproject_declares_the_package(baked: Baked) -> None:
    pyproject = tomllib.loads((baked.path / "pyproject.toml").read_text(encoding="utf-8"))
    context = baked.context
    project = pyproject["project"]
    assert project["name"] == context["project_slug"]
    assert project["version"] == context["version"]
    assert project["description"] == context["description"]
    assert project["license"] == context["license"]
    assert project["license-files"] == ["LICENSE"]
    assert project["requires-python"] == f">={context['min_python']}"
    assert project["authors"] == [{"name": context["author_name"], "email": context["author_email"]}]
    assert f"pyinfra>={PYINFRA_MIN},<4" in project["dependencies"]
    assert any(dep.startswith("typing-extensions") for dep in project["dependencies"])
    assert any(dep.startswith("gevent") for dep in project["dependencies"]) is (baked.kind == "executing")
    entry_points = project["entry-points"]["pyinfra.connectors"]
    assert entry_points == {
        context["connector_name"]: f"{context['package_name']}.connector:{context['connector_class']}"
    }
    assert "Typing :: Typed" in project["classifiers"]
    minors = range(int(context["min_python"].split(".")[1]), int(PYTHON_MAX.split(".")[1]) + 1)
    versions = [
        c.rsplit(" ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert versions == [f"3.{minor}" for minor in minors]
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        f"src/{context['package_name']}"
    ]
    assert "pytest>=9" in pyproject["dependency-groups"]["test"]


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_connector_module_defines_the_class_and_typed_data(baked: Baked) -> None:
    context = baked.context
    source = (baked.path / "src" / context["package_name"] / "connector.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    connector = classes[context["connector_class"]]
    assert ast.get_docstring(connector)
    assert f"pyinfra @{context['connector_name']}/" in ast.get_docstring(connector)
    data_keys = [node.target.id for node in classes["ConnectorData"].body if isinstance(node, ast.AnnAssign)]
    assert data_keys
    assert all(key.startswith(f"{context['connector_name']}_") for key in data_keys)
    methods = [node.name for node in connector.body if isinstance(node, ast.FunctionDef)]
    if baked.kind == "inventory":
        assert methods == ["make_names_data"]
        return
    # The file a person edits: short, the seam first; the machinery lives in modules of its own.
    assert methods == ["target_argv", "make_names_data", "connect"]
    assert len(source.splitlines()) <= 150, "connector.py should stay short: move machinery to _exec.py"
    machinery = ast.parse(
        (baked.path / "src" / context["package_name"] / "_exec.py").read_text(encoding="utf-8")
    )
    (base,) = (
        node for node in machinery.body if isinstance(node, ast.ClassDef) and node.name == "ExecConnector"
    )
    base_methods = {node.name for node in base.body if isinstance(node, ast.FunctionDef)}
    assert base_methods >= {"target_argv", "run_shell_command", "put_file", "get_file"}


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_license_matches_the_choice(baked: Baked) -> None:
    first_words = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "MPL-2.0": "Mozilla Public License Version 2.0",
        "GPL-3.0-or-later": "GNU GENERAL PUBLIC LICENSE",
    }
    text = (baked.path / "LICENSE").read_text(encoding="utf-8")
    assert text.strip().startswith(first_words[baked.context["license"]])
    if baked.context["license"] in {"MIT", "BSD-3-Clause"}:
        assert baked.context["author_name"] in text


@pytest.mark.parametrize("baked", variant_params(), indirect=True)
def test_readme_documents_the_connector(baked: Baked) -> None:
    readme = (baked.path / "README.md").read_text(encoding="utf-8")
    name = baked.context["connector_name"]
    assert f"pyinfra @{name}/" in readme
    assert f"`{name}_" in readme, "the host-data keys are documented"
    assert "## Use these tests for another connector" in readme
    assert "pytest --connector NAME --target ARG" in readme
    assert PYINFRA_MIN in readme, "the README says why pyinfra starts at its floor"


def test_derived_names() -> None:
    baked_names = {
        ("acme_cloud", "pyinfra-acme-cloud", "pyinfra_acme_cloud", "AcmeCloudConnector"),
        ("k8s_exec", "pyinfra-k8s-exec", "pyinfra_k8s_exec", "K8sExecConnector"),
    }
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    for name, slug, package, cls in baked_names:
        context = prompt_for_config(
            generate_context(str(ROOT / "cookiecutter.json"), extra_context={"connector_name": name}),
            no_input=True,
        )
        assert (context["project_slug"], context["package_name"], context["connector_class"]) == (
            slug,
            package,
            cls,
        )


@pytest.mark.parametrize("baked", variant_params("executing", "inventory"), indirect=True)
def test_post_gen_hook_is_idempotent(baked: Baked, tmp_path: Path) -> None:
    def tree() -> dict[str, bytes]:
        return {str(path.relative_to(baked.path)): path.read_bytes() for path in baked.text_files()}

    before = tree()
    run_script_with_context(
        str(ROOT / "hooks" / "post_gen_project.py"), str(baked.path), {"cookiecutter": baked.context}
    )
    assert tree() == before


def test_the_template_folder_holds_only_tracked_files() -> None:
    # cookiecutter copies everything in the folder, caches included, into every project.
    result = subprocess.run(
        [
            "git",
            "status",
            "--ignored",
            "--porcelain",
            "--",
            TEMPLATE_FOLDER_NAME,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stray = [line for line in result.stdout.splitlines() if line.startswith("!!")]
    assert not stray, f"ignored files in the template folder would be baked: {stray}"


def test_files_copied_without_rendering_hold_no_jinja() -> None:
    # cookiecutter copies them as they are, so any Jinja in them would reach the project.
    template = TEMPLATE_FOLDER
    copied = [
        path
        for pattern in COOKIECUTTER["_copy_without_render"]
        for path in template.glob(pattern)
        if path.is_file()
    ]
    assert len(copied) >= len(COOKIECUTTER["_copy_without_render"])
    for path in copied:
        assert not re.search(r"\{\{|\{%|\{#", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("baked", variant_params("executing", "inventory", "inventory-mpl"), indirect=True)
def test_ci_tests_every_python_offered_on_linux_and_the_newest_on_macos(baked: Baked, tmp_path: Path) -> None:
    jobs = yaml.safe_load((baked.path / ".github/workflows/ci.yml").read_text(encoding="utf-8"))["jobs"]
    oldest = int(baked.context["min_python"].split(".")[1])
    pythons = [f"3.{minor}" for minor in range(oldest, int(PYTHON_MAX.split(".")[1]) + 1)]
    assert jobs["test"]["strategy"]["matrix"]["python"] == pythons
    assert pythons[-1] == PYTHON_MAX == "3.14"
    macos = jobs["macos"]
    assert macos["runs-on"] == "macos-latest"
    assert "macos" in jobs["all-green"]["needs"]
    (setup,) = [step for step in macos["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == PYTHON_MAX
    runs = [step["run"] for step in macos["steps"] if "run" in step]
    assert runs[-1].startswith("python -m pytest")
    declare = [
        step["run"] for step in macos["steps"] if step.get("name") == "Declare what macOS does not offer"
    ]
    assert len(declare) == (baked.kind == "executing")
    if declare:
        # The step turns the contract's configuration into one that lists su as not offered.
        shutil.copytree(baked.path / "tests", tmp_path / "tests")
        before = tomllib.loads((tmp_path / "tests/connector-contract.toml").read_text(encoding="utf-8"))
        subprocess.run(["sh", "-c", declare[0]], cwd=tmp_path, check=True)
        after = tomllib.loads((tmp_path / "tests/connector-contract.toml").read_text(encoding="utf-8"))
        assert after == {**before, "unsupported": ["su", *before["unsupported"]]}
