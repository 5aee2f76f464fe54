"""The baked contract is a conformance suite: portable, and it catches broken connectors.

* Copied out of a baked project, it runs against a connector nobody here wrote: pyinfra's own
  ``@local``, whose known defects it must report, and only those.
* Run against deliberately broken copies of the baked connectors (one defect each), at least the
  test that covers that defect fails.
* The baked executing connector with only ``target_argv`` changed to an exec-style command line
  passes the whole contract, including connect() to an unreachable target; a copy whose
  ``connect`` checks nothing fails that test.
* Every run's conformance report (``--contract-report``) says what its JUnit report says, area by
  area: every check passed for the baked connectors, the area of its defect failed for a broken
  one. The command lines of the baked README's contract sections run as shown, and a mistake in an
  option or in the configuration is a usage error.

A broken copy shadows the installed package through PYTHONPATH, for pytest and for the ``pyinfra``
command line the contract starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peers import LOCAL, Report, check_shown, copied_contract, unexplained
from ssh_recipe import (
    HOST_DATA_SECTION,
    SSH,
    SSH_DEFECTS,
    SSH_HANGS,
    SSH_NOT_CONFIGURED,
    SSH_NOT_OFFERED,
    Walkthrough,
    ssh_configuration,
)
from ssh_server import SSHServer
from support import (
    Installed,
    Outcome,
    command_lines,
    describe,
    environment,
    fenced_blocks,
    missing_privileges,
    project_copy,
    require_privileges,
    run,
    run_contract,
    run_documented,
)

pytestmark = pytest.mark.slow  # each test runs the contract in a venv

# The checks that need passwordless sudo or su: on a machine without them, outside CI, the contract
# reports them as not checked.
PRIVILEGED = {
    "sudo": {
        "test_sudo_wraps_the_command_that_runs",
        "test_sudo_user_reaches_the_command",
        "test_timeout_stops_a_command_run_with_sudo",
        # Giving a file to another user: through sudo, unless the target's user is root (as here).
        *(["test_put_file_keeps_the_whole_mode_and_the_owner_of_an_existing_file"] if os.geteuid() else []),
    },
    "su": {"test_su_user_reaches_the_command"},
}
LOCAL_NOT_OFFERED = {
    "test_connect_to_an_unreachable_target_raises_connect_error",  # @local is always reachable
    "test_many_hosts_at_once_each_see_only_their_own",  # there is only one @local
    "test_cli_deploy_on_many_hosts",
    "test_inventory_only_hosts_are_reachable_over_ssh",  # @local executes commands itself
}


CONTRACT_SECTION = "Use these tests for another connector"
AREAS = [
    "commands",
    "arguments",
    "privileges",
    "timeouts",
    "uploads",
    "downloads",
    "inventory",
    "CLI",
    "many hosts",
]
COUNTS = ["checked", "passed", "failed", "not_offered", "not_checked", "not_configured"]


def check_report(report: dict[str, Any], outcome: Outcome) -> dict[str, dict[str, int]]:
    """Check a conformance report against the JUnit report of the same run; return its counts by area."""
    assert report["format"] == 1
    assert [area["area"] for area in report["areas"]] == AREAS
    assert report["passed"] is (not outcome.failed)
    by_outcome: dict[str, set[str]] = {}
    for check in report["checks"]:
        assert check["area"] in AREAS, check
        by_outcome.setdefault(check["outcome"], set()).add(check["name"])
        assert bool(check["reason"]) is (check["outcome"] != "passed"), check
    assert by_outcome.get("passed", set()) == outcome.passed
    assert by_outcome.get("failed", set()) == outcome.failed
    not_run = {
        name
        for key in ("not offered", "not checked", "not configured")
        for name in by_outcome.get(key, set())
    }
    assert not_run == outcome.skipped
    areas = {area["area"]: {key: area[key] for key in COUNTS} for area in report["areas"]}
    for name, counts in areas.items():
        for key in COUNTS[1:]:
            assert counts[key] == sum(
                check["area"] == name and check["outcome"] == key.replace("_", " ")
                for check in report["checks"]
            ), (name, key)
        assert counts["checked"] == counts["passed"] + counts["failed"]
    return areas


@pytest.fixture(scope="session")
def other_project(tmp_path_factory: pytest.TempPathFactory, bake: Any) -> tuple[str, Path]:
    """A project that is not the baked one: the contract and its configuration, copied, and a
    venv with a pinned pyinfra and the contract's test dependencies (pytest, pytest-xdist, tomli),
    but no baked package (peers.copied_contract)."""
    project = tmp_path_factory.mktemp("other-project") / "project"
    return copied_contract(bake("executing").path, project), project


@pytest.mark.parametrize("installed", [pytest.param(("executing", "latest"))], indirect=True)
def test_the_copied_contract_reports_exactly_the_defects_of_pyinfras_local(
    other_project: tuple[str, Path], installed: Installed, baked_suite: Any, tmp_path: Path
) -> None:
    python, project = other_project
    report = tmp_path / "report.json"
    outcome, result = run_contract(
        python, project, tmp_path / "junit.xml", "tests/contract", f"--contract-report={report}"
    )
    # @local runs the contract's _sudo and _su_user checks for real, where this machine can.
    not_checked = {check for name in missing_privileges() for check in PRIVILEGED[name]}
    assert outcome.failed == set(LOCAL.defects) - not_checked, describe(result)
    assert outcome.skipped == LOCAL_NOT_OFFERED | not_checked, describe(result)
    assert {
        "test_exit_status_sets_the_success_flag",
        "test_cli_exec",
        "test_put_file_overwrites_an_existing_file",
    } <= outcome.passed
    assert "connector contract: @local" in result.stdout
    assert "not checked, not offered per connector-contract.toml: many-hosts" in result.stdout
    areas = check_report(json.loads(report.read_text()), outcome)
    failed_areas = {area for area, counts in areas.items() if counts["failed"]}
    assert failed_areas == {"commands", "timeouts", "uploads", "downloads"}, describe(result)
    assert areas["inventory"]["not_configured"] == 0, "@local's expected hosts were not checked"
    # docs/peers.md shows it beside the baked connector's own run (test_install.py's), whose default
    # seam runs commands on this machine too.
    assert not unexplained(LOCAL, Report.read(report)), describe(result)
    check_shown(LOCAL, Report.read(baked_suite(installed) / "contract-report.json"), Report.read(report))


def test_the_inventory_kinds_host_data_example_is_the_one_run_against_ssh(bake: Any) -> None:
    # Its copy of the contract has no many hosts and no unreachable target: nor has its example.
    (executing, inventory) = (
        [
            text
            for language, text in fenced_blocks(
                (bake(kind).path / "README.md").read_text(encoding="utf-8"), HOST_DATA_SECTION
            )
            if language == "toml"
        ]
        for kind in ("executing", "inventory")
    )
    left_out = ("many_hosts_target", "unreachable_target")
    assert inventory == [
        "".join(line for line in executing[0].splitlines(keepends=True) if not line.startswith(left_out))
    ]


def test_the_copied_contract_reports_exactly_the_defects_of_pyinfras_ssh(
    other_project: tuple[str, Path], sshd: SSHServer, bake: Any, ssh_walk: Walkthrough, tmp_path: Path
) -> None:
    python, project = other_project
    config = tmp_path / "connector-contract.toml"
    config.write_text(ssh_configuration(bake("executing").path, sshd), encoding="utf-8")
    report = tmp_path / "report.json"
    started = time.monotonic()
    outcome, result = run_contract(
        python,
        project,
        tmp_path / "junit.xml",
        "tests/contract",
        f"--contract-config={config}",
        f"--contract-report={report}",
        "-n",
        "3",
    )
    elapsed = time.monotonic() - started
    not_checked = {check for name in missing_privileges() for check in PRIVILEGED[name]}
    assert outcome.failed == set(SSH_DEFECTS) - not_checked, describe(result)
    assert outcome.skipped == SSH_NOT_CONFIGURED | SSH_NOT_OFFERED | not_checked, describe(result)
    data = json.loads(report.read_text())
    check_report(data, outcome)  # every check reported, as in the JUnit report
    # The checks that hang each fail at their deadline, the default 60 s; the rest of the run takes
    # about two minutes on 2 busy cores.
    hung = {check["name"] for check in data["checks"] if check["reason"] == "did not finish within 60 s"}
    assert hung == SSH_HANGS - not_checked, describe(result)
    assert elapsed < len(hung) * 60 + 300, describe(result)
    assert "connector contract: @ssh/localhost" in result.stdout, describe(result)
    # docs/peers.md shows it beside the README's SSH recipe, run on the same kind of sshd.
    assert not unexplained(SSH, Report.read(report)), describe(result)
    check_shown(SSH, ssh_walk.report, Report.read(report))


# Deliberately broken copies of the baked connectors: (file, old text, new text) edits, each old
# text found exactly once, and the tests that must fail.


@dataclass(frozen=True)
class Mutant:
    kind: str
    edits: tuple[tuple[str, str, str], ...]
    must_fail: frozenset[str]
    exec_style: bool = False
    relays_signals: bool = True  # with exec_style: whether the fake CLI's client relays signals
    privileged: bool = False  # caught only where sudo and su work without a password
    args: tuple[str, ...] = ()  # more options for the contract's run


MUTANTS = {
    "ignores-exit-status": Mutant(
        "executing",
        (("_exec.py", "return status in success_exit_codes, output", "return True, output"),),
        frozenset({"test_exit_status_sets_the_success_flag"}),
    ),
    "ignores-success-exit-codes": Mutant(
        "executing",
        (("_exec.py", 'control.get("_success_exit_codes") or (0,)', "(0,)"),),
        frozenset({"test_success_exit_codes_decide_success"}),
    ),
    "mixes-stderr-into-stdout": Mutant(
        "executing",
        (("_process.py", 'stderr_lines = _Lines("stderr"', 'stderr_lines = _Lines("stdout"'),),
        frozenset({"test_stdout_and_stderr_are_kept_apart_and_in_order"}),
    ),
    "shares-output-between-commands": Mutant(
        "executing",
        (
            ("_process.py", "    combined: list[OutputLine] = []\n", "    combined = _ALL_LINES\n"),
            (
                "_process.py",
                "CHUNK_SIZE = 64 * 1024\n",
                "CHUNK_SIZE = 64 * 1024\n_ALL_LINES: list[OutputLine] = []\n",
            ),
        ),
        frozenset({"test_many_hosts_at_once_each_see_only_their_own"}),
    ),
    # Every command waits for the one before it to end, through one lock for the whole process:
    # 20 hosts at once take turns. Only that check runs: one after another, it takes over 20 s.
    "runs-commands-one-after-another": Mutant(
        "executing",
        (
            ("_process.py", "def run(\n", "def _run_alone(\n"),
            (
                "_process.py",
                "def stdin_lines(",
                "from gevent.lock import Semaphore\n\n_ONE_AT_A_TIME = Semaphore()\n\n\n"
                "def run(*args, **kwargs):\n    with _ONE_AT_A_TIME:\n        return _run_alone(*args, **kwargs)\n\n\n"
                "def stdin_lines(",
            ),
        ),
        frozenset({"test_many_hosts_at_once_each_see_only_their_own"}),
        args=("-k", "test_many_hosts_at_once_each_see_only_their_own"),
    ),
    "drops-env": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_env", None)\n',
            ),
        ),
        frozenset({"test_env_reaches_the_command"}),
    ),
    "drops-chdir": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_chdir", None)\n',
            ),
        ),
        frozenset({"test_chdir_reaches_the_command"}),
    ),
    "drops-shell-executable": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_shell_executable", None)\n',
            ),
        ),
        frozenset({"test_shell_executable_reaches_the_command"}),
    ),
    "drops-sudo": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_sudo", None)\n',
            ),
        ),
        frozenset({"test_sudo_wraps_the_command_that_runs", "test_sudo_user_reaches_the_command"}),
        privileged=True,
    ),
    "drops-su": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_su_user", None)\n',
            ),
        ),
        frozenset({"test_su_user_reaches_the_command"}),
        privileged=True,
    ),
    # The same two, and a dropped _doas, caught without any privileges: sudo, su and doas refuse a
    # user that does not exist (doas need not even be installed), where the command runs without.
    "drops-sudo-caught-without-privileges": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_sudo", None)\n',
            ),
        ),
        frozenset({"test_privilege_arguments_are_never_dropped[sudo]"}),
    ),
    "drops-su-caught-without-privileges": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_su_user", None)\n',
            ),
        ),
        frozenset({"test_privilege_arguments_are_never_dropped[su]"}),
    ),
    "drops-doas": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "control = extract_control_arguments(arguments)\n",
                'control = extract_control_arguments(arguments)\n        arguments.pop("_doas", None)\n',
            ),
        ),
        frozenset({"test_privilege_arguments_are_never_dropped[doas]"}),
    ),
    "ignores-stdin": Mutant(
        "executing",
        (
            (
                "_exec.py",
                'partial(_process.stdin_lines, control.get("_stdin"))',
                "partial(_process.stdin_lines, None)",
            ),
        ),
        frozenset({"test_stdin_as_a_string", "test_stdin_as_lines", "test_stdin_as_a_file_object"}),
    ),
    "leaves-the-command-running-on-timeout": Mutant(
        "executing",
        (
            ("_process.py", "        _signal_all(stopping, signal.SIGTERM)\n", "        return\n"),
            (
                "_exec.py",
                "                    self._stop_on_target(token, arguments)\n",
                "                    pass\n",
            ),
        ),
        frozenset({"test_timeout_raises_and_stops_the_command"}),
    ),
    "stops-only-the-command-and-its-descendants": Mutant(
        "executing",
        (
            ("_process.py", "        roots = _pipe_holders(self._open)\n", "        roots: list[int] = []\n"),
            ("sh/guard.sh", 'k="$(d "$p") $(h)"\n', 'k=$(d "$p")\n'),
        ),
        frozenset({"test_timeout_raises_and_stops_the_command"}),
    ),
    # Through a transport whose client relays no signal (docker exec): stopping the local client
    # is not enough, the command must be stopped on the target too.
    "leaves-the-command-running-on-the-target": Mutant(
        "executing",
        (
            (
                "_exec.py",
                "                    self._stop_on_target(token, arguments)\n",
                "                    pass\n",
            ),
        ),
        frozenset({"test_timeout_raises_and_stops_the_command"}),
        exec_style=True,
        relays_signals=False,
    ),
    # The command line's uploads hang: under gevent's monkey-patching os.close of a pipe waits for
    # the hub's next loop iteration, and nothing may wake the hub, so `cat` never sees the end of
    # its input. Only the command line applies the patching; a hang fails at the check's deadline.
    "closes-pipes-late-under-gevent": Mutant(
        "executing",
        (("_process.py", 'get_original("os", "close")', "lambda fd: os.close(fd)"),),
        frozenset({"test_cli_puts_and_gets_files_given_as_paths"}),
        args=("--check-time-limit", "20"),
    ),
    "leaves-the-new-file-when-an-upload-is-stopped": Mutant(
        "executing",
        (("sh/put.sh", "trap 'c 129' HUP\ntrap 'c 130' INT\ntrap 'c 141' PIPE\ntrap 'c 143' TERM\n", ""),),
        frozenset({"test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file"}),
    ),
    "writes-uploads-in-place": Mutant(
        "executing",
        (
            (
                "sh/put.sh",
                'if ! e=$( (set -C; : >"$t") 2>&1); then\n',
                'cat >"$d"; exit $?\nif ! e=$( (set -C; : >"$t") 2>&1); then\n',
            ),
        ),
        frozenset({"test_failed_upload_keeps_the_old_file_and_leaves_no_partial_file"}),
    ),
    "replaces-symbolic-links": Mutant(
        "executing",
        (
            ("sh/put.sh", 'if [ -h "$d" ] && r=$(readlink -f', "if false && r=$(readlink -f"),
            ("sh/put.sh", 'while [ -h "$d" ]; do\n', "while false; do\n"),
        ),
        frozenset({"test_put_file_writes_through_a_symbolic_link"}),
    ),
    "writes-text-it-cannot-decode": Mutant(
        "executing",
        (
            (
                "_files.py",
                "        _check_text(spool)  # all of it, before anything is written\n",
                "        pass\n",
            ),
        ),
        frozenset({"test_get_file_of_a_file_that_is_not_text_into_a_text_file_object"}),
    ),
    "leaves-partial-downloads": Mutant(
        "executing",
        (("_files.py", "            os.unlink(self.temp)\n", "            pass\n"),),
        frozenset({"test_get_file_of_a_missing_file_raises_and_leaves_nothing"}),
    ),
    "does-not-quote-remote-paths": Mutant(
        "executing",
        (("_exec.py", 'f"cat <{shlex.quote(remote_filename)}"', 'f"cat <{remote_filename}"'),),
        frozenset({"test_remote_paths_are_quoted[awkward]"}),
    ),
    "reuses-host-data": Mutant(
        "executing",
        (
            (
                "connector.py",
                'yield f"@{NAME}/{name}", {TARGET_KEY: name}, [f"@{NAME}"]',
                'yield f"@{NAME}/{name}", _DATA.setdefault(name, {TARGET_KEY: name}), [f"@{NAME}"]',
            ),
            (
                "connector.py",
                "class ConnectorData(TypedDict):\n",
                "_DATA: dict[str, Any] = {}\n\n\nclass ConnectorData(TypedDict):\n",
            ),
        ),
        frozenset({"test_same_argument_gives_same_hosts_twice"}),
    ),
    "bad-target-is-a-value-error": Mutant(
        "executing",
        (
            (
                "connector.py",
                "        if not TARGET_PATTERN.fullmatch(name):\n            raise InventoryError(",
                "        if not TARGET_PATTERN.fullmatch(name):\n            raise ValueError(",
            ),
        ),
        frozenset(
            {
                "test_bad_argument_raises_inventory_error[bad_targets[1]]",
                "test_bad_argument_fails_in_pyinfra_inventory[bad_targets[1]]",
            }
        ),
    ),
    "missing-target-is-silent": Mutant(
        "executing",
        (
            (
                "connector.py",
                '            raise InventoryError(f"@{NAME} needs a target',
                '            return\n            raise InventoryError(f"@{NAME} needs a target',
            ),
        ),
        frozenset({"test_bad_argument_raises_inventory_error[bad_targets[0]]"}),
    ),
    "connect-checks-nothing": Mutant(
        "executing",
        (
            (
                "connector.py",
                "        problem = self.check_target()\n",
                "        return\n        problem = self.check_target()\n",
            ),
        ),
        frozenset({"test_connect_to_an_unreachable_target_raises_connect_error"}),
        exec_style=True,
    ),
    "inventory-duplicates-a-host": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "        yield from hosts_from_document(load_source(name), name)\n",
                "        hosts = hosts_from_document(load_source(name), name)\n        yield from hosts + hosts[:1]\n",
            ),
        ),
        frozenset({"test_host_names_are_unique"}),
    ),
    "inventory-nests-groups": Mutant(
        "inventory",
        (
            (
                "connector.py",
                '[f"@{NAME}", group] if group else [f"@{NAME}"]',
                '[[f"@{NAME}", group]] if group else [f"@{NAME}"]',
            ),
        ),
        frozenset({"test_groups_are_flat_strings"}),
    ),
    "inventory-reuses-hosts": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "        yield from hosts_from_document(load_source(name), name)\n",
                "        yield from _HOSTS.setdefault(name, hosts_from_document(load_source(name), name))\n",
            ),
            (
                "connector.py",
                "HostEntry = tuple[str, dict[str, Any], list[str]]\n",
                "HostEntry = tuple[str, dict[str, Any], list[str]]\n_HOSTS: dict[str, Any] = {}\n",
            ),
        ),
        frozenset({"test_same_argument_gives_same_hosts_twice"}),
    ),
    "inventory-missing-source-is-silent": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "        if not name:\n            raise InventoryError(",
                "        if not name:\n            return\n            raise InventoryError(",
            ),
        ),
        frozenset({"test_bad_argument_raises_inventory_error[bad_targets[0]]"}),
    ),
    # The expected hosts of connector-contract.toml: a host's data or groups changed, a host too many
    # or too few; each is caught in what make_names_data yields and in pyinfra's Inventory.
    "inventory-drops-ssh-hostname": Mutant(
        "inventory",
        (
            (
                "connector.py",
                '        return _check_name(entry, where), {"ssh_hostname": entry}\n',
                "        return _check_name(entry, where), {}\n",
            ),
        ),
        frozenset(
            {
                "test_each_host_carries_the_expected_data",
                "test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data",
            }
        ),
    ),
    "inventory-changes-groups": Mutant(
        "inventory",
        (
            (
                "connector.py",
                '[f"@{NAME}", group] if group else [f"@{NAME}"]',
                '[group] if group else [f"@{NAME}"]',
            ),
        ),
        frozenset(
            {
                "test_each_host_is_in_exactly_the_expected_groups",
                "test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data",
            }
        ),
    ),
    "inventory-yields-an-extra-host": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "        yield from hosts_from_document(load_source(name), name)\n",
                "        yield from hosts_from_document(load_source(name), name)\n"
                '        yield "extra.example.com", {"ssh_hostname": "extra.example.com"}, [f"@{NAME}"]\n',
            ),
        ),
        frozenset(
            {
                "test_yields_exactly_the_expected_hosts",
                "test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data",
            }
        ),
    ),
    "inventory-drops-a-host": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "        yield from hosts_from_document(load_source(name), name)\n",
                "        yield from hosts_from_document(load_source(name), name)[:-1]\n",
            ),
        ),
        frozenset(
            {
                "test_yields_exactly_the_expected_hosts",
                "test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data",
            }
        ),
    ),
    "executing-target-outside-its-group": Mutant(
        "executing",
        (
            (
                "connector.py",
                'yield f"@{NAME}/{name}", {TARGET_KEY: name}, [f"@{NAME}"]',
                'yield f"@{NAME}/{name}", {TARGET_KEY: name}, [NAME]',
            ),
        ),
        frozenset(
            {
                "test_each_host_is_in_exactly_the_expected_groups",
                "test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data",
            }
        ),
    ),
    "inventory-bad-json-is-a-value-error": Mutant(
        "inventory",
        (
            (
                "connector.py",
                "    except json.JSONDecodeError as error:\n        raise InventoryError(",
                "    except json.JSONDecodeError as error:\n        raise ValueError(",
            ),
        ),
        frozenset({"test_bad_argument_raises_inventory_error[bad_targets[3]]"}),
    ),
}

# The area of the contract each broken copy must fail in, in the conformance report.
MUTANT_AREAS = {
    "ignores-exit-status": "commands",
    "ignores-success-exit-codes": "arguments",
    "mixes-stderr-into-stdout": "commands",
    "shares-output-between-commands": "many hosts",
    "runs-commands-one-after-another": "many hosts",
    "drops-env": "arguments",
    "drops-chdir": "arguments",
    "drops-shell-executable": "arguments",
    "drops-sudo": "privileges",
    "drops-su": "privileges",
    "drops-sudo-caught-without-privileges": "privileges",
    "drops-su-caught-without-privileges": "privileges",
    "drops-doas": "privileges",
    "ignores-stdin": "arguments",
    "leaves-the-command-running-on-timeout": "timeouts",
    "stops-only-the-command-and-its-descendants": "timeouts",
    "leaves-the-command-running-on-the-target": "timeouts",
    "closes-pipes-late-under-gevent": "CLI",
    "leaves-the-new-file-when-an-upload-is-stopped": "timeouts",
    "writes-uploads-in-place": "uploads",
    "replaces-symbolic-links": "uploads",
    "writes-text-it-cannot-decode": "downloads",
    "leaves-partial-downloads": "downloads",
    "does-not-quote-remote-paths": "uploads",
    "reuses-host-data": "inventory",
    "bad-target-is-a-value-error": "inventory",
    "missing-target-is-silent": "inventory",
    "connect-checks-nothing": "commands",
    "inventory-duplicates-a-host": "inventory",
    "inventory-nests-groups": "inventory",
    "inventory-reuses-hosts": "inventory",
    "inventory-missing-source-is-silent": "inventory",
    "inventory-drops-ssh-hostname": "inventory",
    "inventory-changes-groups": "inventory",
    "inventory-yields-an-extra-host": "inventory",
    "inventory-drops-a-host": "inventory",
    "executing-target-outside-its-group": "inventory",
    "inventory-bad-json-is-a-value-error": "inventory",
}


def test_every_broken_copy_names_the_area_it_must_fail_in() -> None:
    assert set(MUTANT_AREAS) == set(MUTANTS)
    assert set(MUTANT_AREAS.values()) <= set(AREAS)


# target_argv of the baked executing connector, and the exec-style command line that replaces it.
DEFAULT_SEAM = 'return ["sh", "-c", command]'
EXEC_STYLE_SEAM = 'return [{cli!r}, "exec", self.data[TARGET_KEY], "sh", "-c", command]'
FAKE_CLI = """\
#!/bin/sh
# fake-cli exec TARGET COMMAND...: run COMMAND inside $FAKE_CLI_ROOT/TARGET, like `docker exec`.
[ "$1" = exec ] || { echo "usage: fake-cli exec TARGET COMMAND..." >&2; exit 2; }
root="$FAKE_CLI_ROOT/$2"
[ -d "$root" ] || { echo "fake-cli: no such target: $2" >&2; exit 1; }
shift 2
cd "$root" && exec "$@"
"""
# The same, but like `docker exec` in this: the command runs outside the client's process tree,
# with pipes of its own, and keeps running when the client dies (no stdin, no exit status).
NO_RELAY_CLI = """\
#!/bin/sh
root="$FAKE_CLI_ROOT/$2"
[ -d "$root" ] || { echo "fake-cli: no such target: $2" >&2; exit 1; }
shift 2
d=$(mktemp -d) && mkfifo "$d/out" "$d/err" || exit 1
( cd "$root" && "$@" >"$d/out" 2>"$d/err" </dev/null & )
cat "$d/err" >&2 &
cat "$d/out"
wait
rm -rf "$d"
"""


def shadow_package(installed: Installed, directory: Path, edits: tuple[tuple[str, str, str], ...]) -> Path:
    """A copy of the baked package with ``edits`` applied, in a folder to put first on PYTHONPATH."""
    package = installed.baked.context["package_name"]
    shutil.copytree(installed.baked.path / "src" / package, directory / package)
    for name, old, new in edits:
        path = directory / package / name
        text = path.read_text()
        assert text.count(old) == 1, f"{name}: expected exactly one {old!r}; update the mutant to the code"
        path.write_text(text.replace(old, new))
    return directory


def exec_style(
    tmp_path: Path, installed: Installed, cli_script: str = FAKE_CLI
) -> tuple[tuple[str, str, str], dict[str, str], Path]:
    """The seam edit, the environment and the contract configuration for an exec-style connector."""
    cli = tmp_path / "fake-cli"
    cli.write_text(cli_script)
    cli.chmod(0o755)
    root = tmp_path / "targets"
    for target in ["demo", *(f"demo-{index}" for index in range(20))]:
        (root / target).mkdir(parents=True)
    config = (installed.baked.path / "tests" / "connector-contract.toml").read_text()
    config = config.replace('unreachable_target = ""', 'unreachable_target = "nowhere"')
    config_path = tmp_path / "connector-contract.toml"
    config_path.write_text(config)
    return (
        ("connector.py", DEFAULT_SEAM, EXEC_STYLE_SEAM.format(cli=str(cli))),
        {"FAKE_CLI_ROOT": str(root)},
        config_path,
    )


@pytest.mark.parametrize(
    "installed",
    [pytest.param(("executing", "latest"))],
    indirect=True,
)
def test_changing_only_the_seam_to_an_exec_style_cli_passes_the_whole_contract(
    installed: Installed, tmp_path: Path
) -> None:
    seam, env, config = exec_style(tmp_path, installed)
    shadow = shadow_package(installed, tmp_path / "shadow", (seam,))
    outcome, result = run_contract(
        installed.python,
        installed.baked.path,
        tmp_path / "junit.xml",
        "tests/contract",
        f"--contract-config={config}",
        f"--contract-report={tmp_path / 'report.json'}",
        env={**env, "PYTHONPATH": str(shadow)},
    )
    assert not outcome.failed, describe(result)
    areas = check_report(json.loads((tmp_path / "report.json").read_text()), outcome)
    assert all(counts["checked"] for counts in areas.values()), areas
    assert "test_connect_to_an_unreachable_target_raises_connect_error" in outcome.passed
    # The whole contract, _sudo and _su_user for real included, where this machine can.
    not_checked = {check for name in missing_privileges() for check in PRIVILEGED[name]}
    assert outcome.skipped == {"test_inventory_only_hosts_are_reachable_over_ssh"} | not_checked, describe(
        result
    )


# The same, but slow: 2 s before every command, on every host at once.
SLOW_SEAM = 'return ["sh", "-c", "sleep 2; " + command]'


@pytest.mark.parametrize(
    "installed",
    [pytest.param(("executing", "latest"))],
    indirect=True,
)
def test_a_slow_transport_that_runs_hosts_at_once_passes_the_many_hosts_check(
    installed: Installed, tmp_path: Path
) -> None:
    check = "test_many_hosts_at_once_each_see_only_their_own"
    shadow = shadow_package(installed, tmp_path / "shadow", (("connector.py", DEFAULT_SEAM, SLOW_SEAM),))
    outcome, result = run_contract(
        installed.python,
        installed.baked.path,
        tmp_path / "junit.xml",
        f"tests/contract/test_execution.py::{check}",
        env={"PYTHONPATH": str(shadow)},
    )
    assert outcome.passed == {check}, describe(result)
    # Each host runs five commands one after another, 10 s and more: longer than 20 hosts' commands
    # of half a second would take one after another, the wall-clock bound this check once had.
    (case,) = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert float(case.get("time", 0)) > 10, describe(result)


@pytest.mark.parametrize(
    ("installed", "mutant"),
    [pytest.param((mutant.kind, "latest"), name, id=name) for name, mutant in MUTANTS.items()],
    indirect=["installed"],
)
def test_a_broken_connector_fails_the_contract(installed: Installed, mutant: str, tmp_path: Path) -> None:
    if MUTANTS[mutant].privileged:
        require_privileges()  # elsewhere the check errors before it runs, which proves nothing
    edits = MUTANTS[mutant].edits
    # Only the contract modules that hold the tests this defect must fail, to keep the suite quick.
    contract = installed.baked.path / "tests" / "contract"
    args = [
        str(module.relative_to(installed.baked.path))
        for module in sorted(contract.glob("test_*.py"))
        if any(f"def {name.split('[')[0]}(" in module.read_text() for name in MUTANTS[mutant].must_fail)
    ]
    assert args, f"no contract module defines {sorted(MUTANTS[mutant].must_fail)}"
    args += MUTANTS[mutant].args
    env: dict[str, str] = {}
    if MUTANTS[mutant].exec_style:
        cli = FAKE_CLI if MUTANTS[mutant].relays_signals else NO_RELAY_CLI
        seam, env, config = exec_style(tmp_path, installed, cli)
        edits = (seam, *edits)
        args += [f"--contract-config={config}"]
    shadow = shadow_package(installed, tmp_path / "shadow", edits)
    outcome, result = run_contract(
        installed.python,
        installed.baked.path,
        tmp_path / "junit.xml",
        *args,
        f"--contract-report={tmp_path / 'report.json'}",
        env={**env, "PYTHONPATH": str(shadow)},
    )
    assert outcome.failed, f"no contract test caught {mutant}\n{describe(result)}"
    assert MUTANTS[mutant].must_fail <= outcome.failed, describe(result)
    areas = check_report(json.loads((tmp_path / "report.json").read_text()), outcome)
    assert areas[MUTANT_AREAS[mutant]]["failed"], (
        f"{mutant}: the report shows no failure in {MUTANT_AREAS[mutant]}"
    )


# Connectors that hang, each in one way, in one check or a few: the run still ends, soon after the
# deadline of the checks that hang, with exactly those failed, saying where they were stuck, and
# every other check reported. (file, old text, new text) edits as for the broken copies above.

HANG_LIMIT = 3
"""check_time_limit for a run of quick checks only."""
HANG_OVERHEAD = 60
"""Seconds a run with hung checks may take beyond one deadline per hung check: running the rest of
the module on a busy machine, and starting a new pytest-xdist worker after each hang."""
CONTROL = "control = extract_control_arguments(arguments)\n"


@dataclass(frozen=True)
class Hang:
    kind: str
    edit: tuple[str, str, str]
    must_hang: frozenset[str]
    stuck_at: str  # a line of the edit that the stack of where it was stuck must show
    module: str
    args: tuple[str, ...] = ()
    # check_time_limit: the slowest checks of test_execution.py take a few seconds on a busy machine.
    limit: float = 10


HANGS = {
    # A client library's call that waits for a thread's answer that never comes.
    "a-thread-wait": Hang(
        "executing",
        (
            "_exec.py",
            CONTROL,
            CONTROL + '        if control.get("_stdin") == "hello stdin":\n'
            '            __import__("threading").Event().wait()\n',
        ),
        frozenset({"test_stdin_as_a_string"}),
        "Event().wait()",
        "test_execution.py",
    ),
    # A greenlet waiting on an event nobody sets, while another greenlet keeps gevent's loop busy
    # (a heartbeat), so gevent never sees that it would block for ever.
    "a-greenlet-wait": Hang(
        "executing",
        (
            "_exec.py",
            CONTROL,
            CONTROL + '        if "CONTRACT_VALUE" in (arguments.get("_env") or {}):\n'
            "            import gevent.event\n\n"
            "            gevent.spawn(lambda: [gevent.sleep(0.1) for _ in iter(int, 1)])\n"
            "            gevent.event.Event().wait()\n",
        ),
        frozenset({"test_env_reaches_the_command"}),
        "gevent.event.Event().wait()",
        "test_execution.py",
    ),
    # A blocking read of a pipe that nobody writes, which blocks every greenlet; and the run without
    # -n, which the contract runs in one pytest-xdist worker of its own.
    "a-blocking-read": Hang(
        "executing",
        (
            "_exec.py",
            CONTROL,
            CONTROL + '        if arguments.get("_chdir"):\n            os.read(os.pipe()[0], 1)\n',
        ),
        frozenset({"test_chdir_reaches_the_command"}),
        "os.read(os.pipe()[0], 1)",
        "test_execution.py",
        args=("-o", "addopts=-ra"),
    ),
    # An inventory API that never answers, in make_names_data itself, in a project without -n:
    # for every bad target but the empty one, so in six checks, more than pytest-xdist's default of
    # four new workers for one.
    "make-names-data": Hang(
        "inventory",
        (
            "connector.py",
            "        yield from hosts_from_document(load_source(name), name)\n",
            '        if name != "hosts.json":\n            __import__("threading").Event().wait()\n'
            "        yield from hosts_from_document(load_source(name), name)\n",
        ),
        frozenset(
            f"{check}[bad_targets[{index}]]"
            for check in (
                "test_bad_argument_raises_inventory_error",
                "test_bad_argument_fails_in_pyinfra_inventory",
            )
            for index in (1, 2, 3)
        ),
        "Event().wait()",
        "test_inventory.py",
        # Without the checks that start pyinfra's command line, the others take well under a second.
        args=("-k", "not cli"),
        limit=HANG_LIMIT,
    ),
}


@pytest.mark.parametrize(
    ("installed", "hang"),
    [pytest.param((hang.kind, "latest"), name, id=name) for name, hang in HANGS.items()],
    indirect=["installed"],
)
def test_a_check_that_hangs_fails_at_its_deadline_and_the_run_goes_on(
    installed: Installed, hang: str, tmp_path: Path
) -> None:
    case = HANGS[hang]
    shadow = shadow_package(installed, tmp_path / "shadow", (case.edit,))
    report = tmp_path / "report.json"
    bound = case.limit * len(case.must_hang) + HANG_OVERHEAD
    started = time.monotonic()
    outcome, result = run_contract(
        installed.python,
        installed.baked.path,
        tmp_path / "junit.xml",
        f"tests/contract/{case.module}",
        f"--check-time-limit={case.limit:g}",
        f"--contract-report={report}",
        *case.args,
        env={"PYTHONPATH": str(shadow)},
        timeout=bound + 60,
    )
    elapsed = time.monotonic() - started
    assert outcome.failed == case.must_hang, describe(result)
    assert elapsed < bound, describe(result)
    data = json.loads(report.read_text())
    check_report(data, outcome)  # every check of the run is in the report, as in its JUnit report
    assert outcome.passed, describe(result)
    for check in data["checks"]:
        if check["name"] in case.must_hang:
            assert check["reason"] == f"did not finish within {case.limit:g} s", check
    text = result.stdout + result.stderr
    assert f"did not finish within {case.limit:g} s (check_time_limit)" in text, describe(result)
    assert case.stuck_at in text, f"the stack does not show where it was stuck\n{describe(result)}"
    assert "INTERNALERROR" not in text, describe(result)


@pytest.mark.parametrize("installed", [pytest.param(("executing", "latest"))], indirect=True)
def test_without_workers_a_check_that_hangs_ends_the_run_saying_where(
    installed: Installed, tmp_path: Path
) -> None:
    # -n 0, for a debugger: nothing can end the hung check but the end of pytest's own process.
    case = HANGS["a-thread-wait"]
    shadow = shadow_package(installed, tmp_path / "shadow", (case.edit,))
    started = time.monotonic()
    result = run(
        [
            *(installed.python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0"),
            *(f"--check-time-limit={HANG_LIMIT}", f"tests/contract/{case.module}", "-k", "stdin_as_a_string"),
        ],
        cwd=installed.baked.path,
        env={"PYTHONPATH": str(shadow)},
        timeout=HANG_LIMIT + HANG_OVERHEAD + 60,
    )
    assert time.monotonic() - started < HANG_LIMIT + HANG_OVERHEAD, describe(result)
    assert result.returncode == 70, describe(result)
    (nodeid,) = case.must_hang
    assert (
        f"connector contract: tests/contract/{case.module}::{nodeid} did not finish within {HANG_LIMIT} s"
        in result.stderr
    ), describe(result)
    assert case.stuck_at in result.stderr, describe(result)
    assert "The run stops here" in result.stderr, describe(result)


# Checks of the deadline itself, added to a copy of the baked contract.
EDGE_CHECKS = """\
import time

import pytest

pytestmark = pytest.mark.area("commands")


def test_ends_as_its_time_runs_out():
    time.sleep(LIMIT)


def test_runs_next():
    time.sleep(0.5)


def test_fails_into_a_debugger():
    time.sleep(LIMIT)
    raise AssertionError("look at me in the debugger")
"""


@pytest.mark.parametrize("installed", [pytest.param(("executing", "latest"))], indirect=True)
def test_a_check_that_ends_as_its_time_runs_out_leaves_the_next_one_alone(
    installed: Installed, tmp_path: Path
) -> None:
    project, env = project_copy(installed, tmp_path)
    (project / "tests" / "contract" / "test_edge.py").write_text(EDGE_CHECKS.replace("LIMIT", "2"))
    outcome, result = run_contract(
        installed.python,
        project,
        tmp_path / "junit.xml",
        "tests/contract/test_edge.py",
        "-k",
        "not debugger",
        "--check-time-limit=2",
        "-n",
        "1",
        env=env,
    )
    # The first may count as finished or not; the next one, in the same worker, must not pay.
    assert "test_runs_next" in outcome.passed, describe(result)
    assert "test_runs_next" not in outcome.failed, describe(result)


@pytest.mark.parametrize("installed", [pytest.param(("executing", "latest"))], indirect=True)
def test_a_debugger_waiting_for_its_user_holds_the_deadline_off(installed: Installed, tmp_path: Path) -> None:
    project, env = project_copy(installed, tmp_path)
    (project / "tests" / "contract" / "test_edge.py").write_text(EDGE_CHECKS.replace("LIMIT", "0.1"))
    process = subprocess.Popen(
        [
            *(installed.python, "-m", "pytest", "-p", "no:cacheprovider", "--pdb", "--check-time-limit=1"),
            *("tests/contract/test_edge.py", "-k", "debugger"),
        ],
        cwd=project,
        env=environment(**env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The person reads the failure at the prompt for longer than the check's deadline, then goes on.
    time.sleep(4)
    try:
        out, _ = process.communicate("continue\n", timeout=120)
    finally:
        process.kill()  # nothing left running, whatever happened
        process.wait()
    assert "look at me in the debugger" in out, out
    assert "did not finish within" not in out, out
    assert process.returncode == 1, out  # the check's own failure, not the deadline's 70


# The baked README's contract sections, and mistakes in what the contract is given.

INVENTORY_LATEST = [pytest.param(("inventory", "latest"), id="inventory-latest")]


@pytest.mark.parametrize("installed", INVENTORY_LATEST, indirect=True)
def test_the_readmes_contract_command_lines_run_as_shown(installed: Installed, tmp_path: Path) -> None:
    project, env = project_copy(installed, tmp_path)
    readme = (project / "README.md").read_text(encoding="utf-8")
    lines = [
        line
        for language, text in fenced_blocks(readme, CONTRACT_SECTION)
        for line in command_lines(language, text)
    ]
    assert lines == [
        "pytest tests/contract",
        "pytest --connector NAME --target ARG",
        "pytest tests/contract --connector NAME --target ARG",
        "pytest --contract-report=contract-report.json",
        "python tests/contract/report_to_markdown.py contract-report.json",
    ], "the README's contract command lines changed: update this test to run them"
    inventory = f"@{installed.baked.name}/hosts.json"
    for line in lines:
        command = line.replace("NAME", installed.baked.name).replace("ARG", "hosts.json")
        result = run_documented(command, project, env)
        assert result.returncode == 0, f"this README line failed: {line}\n{describe(result)}"
        if command.startswith("pytest"):
            assert f"connector contract: {inventory}" in result.stdout, describe(result)
            assert re.search(r"^inventory +(\d+) +\1 +0 +0 +0 +0$", result.stdout, flags=re.M), describe(
                result
            )
    report = json.loads((project / "contract-report.json").read_text(encoding="utf-8"))
    assert report["passed"] is True
    assert all(check["outcome"] == "passed" for check in report["checks"]), report["checks"]
    inventory_row = next(area for area in report["areas"] if area["area"] == "inventory")
    assert inventory_row["checked"] == inventory_row["passed"] > 0
    markdown = result.stdout.splitlines()
    assert markdown[0] == f"`{inventory}` passes the pyinfra connector contract:"
    assert markdown[2] == "| Area | Checked | Passed | Failed | Not offered | Not checked | Not configured |"
    assert (
        f"| inventory | {inventory_row['checked']} | {inventory_row['passed']} | 0 | 0 | 0 | 0 |" in markdown
    )


BAD_CONFIGURATIONS = {
    "not TOML": ('connector = "acme"\ntarget = "hosts.json\n', "cannot read it as TOML"),
    "a string that is not one": (
        'connector = "acme"\ntarget = ["hosts.json"]\n',
        "'target' must be a string",
    ),
    "an unknown capability": (
        'connector = "acme"\nunsupported = ["teleport"]\n',
        "'unsupported' must be an array of capabilities",
    ),
    "an unknown setting": ('connector = "acme"\ntargets = "hosts.json"\n', "unknown setting 'targets'"),
    "a host without a name": (
        'connector = "acme"\nexpected_hosts = [{ groups = ["web"] }]\n',
        "'expected_hosts' must be an array of tables with name, groups and data, got [{'groups': ['web']}] "
        "(an array): [0]: 'name' must be a non-empty string, got none",
    ),
}


@pytest.mark.parametrize("installed", INVENTORY_LATEST, indirect=True)
def test_a_mistake_in_the_options_or_the_configuration_is_a_usage_error(
    installed: Installed, tmp_path: Path
) -> None:
    project, env = project_copy(installed, tmp_path)
    pytest_bin = str(installed.venv / "bin" / "pytest")
    cases = {
        "an unknown connector": (["--connector", "no_such_connector"], "no connector 'no_such_connector'")
    }
    for what, (text, message) in BAD_CONFIGURATIONS.items():
        config = tmp_path / f"{what.replace(' ', '-')}.toml"
        config.write_text(text.replace("acme", installed.baked.name), encoding="utf-8")
        cases[what] = ([f"--contract-config={config}"], message)
    for what, (args, message) in cases.items():
        result = run([pytest_bin, "-p", "no:cacheprovider", *args], cwd=project, env=env)
        assert result.returncode == 4, f"{what}: not a usage error\n{describe(result)}"
        assert "ERROR: " in result.stderr, f"{what}\n{describe(result)}"
        assert message in result.stderr, f"{what}\n{describe(result)}"
        assert "Traceback" not in result.stdout + result.stderr, f"{what}\n{describe(result)}"
