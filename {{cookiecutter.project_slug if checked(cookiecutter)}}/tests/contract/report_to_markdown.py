"""Render a conformance report (``pytest --contract-report PATH``) as a Markdown table, for a README.

    python tests/contract/report_to_markdown.py contract-report.json >conformance.md

It reads only the report, so it runs anywhere, without pytest or pyinfra.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = ("area", "checked", "passed", "failed", "not_offered", "not_checked", "not_configured")


def markdown(report: dict[str, Any]) -> str:
    target = f"@{report['connector']}/{report['target']}" if report["target"] else f"@{report['connector']}"
    verdict = "passes" if report["passed"] else "fails"
    lines = [
        f"`{target}` {verdict} the pyinfra connector contract:",
        "",
        "| " + " | ".join(column.replace("_", " ").capitalize() for column in COLUMNS) + " |",
        "| --- |" + " ---: |" * (len(COLUMNS) - 1),
    ]
    for area in report["areas"]:
        lines.append("| " + " | ".join(str(area[column]) for column in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: report_to_markdown.py REPORT.json", file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    sys.stdout.write(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
