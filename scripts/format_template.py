"""Format the template's Python files with the baked project's own ruff settings.

Usage: python scripts/format_template.py [--check]

The files under {{cookiecutter.project_slug if checked(cookiecutter)}}/ contain Jinja, so ruff cannot read them directly.
This bakes every kind with marker names, runs ``ruff check --fix`` and ``ruff format`` inside each
bake (so the baked pyproject.toml's settings apply), turns the markers back into Jinja and writes
the result into the template. With ``--check`` it only reports which files would change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "{{cookiecutter.project_slug if checked(cookiecutter)}}"
# Marker answers that cannot appear anywhere else in the template, and the Jinja they stand for.
MARKERS = {
    "connector_class": ("ZzqClassZzq", "{{ cookiecutter.connector_class }}"),
    "package_name": ("zzq_package_zzq", "{{ cookiecutter.package_name }}"),
    "connector_name": ("zzq_name_zzq", "{{ cookiecutter.connector_name }}"),
}


def template_path(baked_relative: Path, kind: str) -> Path | None:
    """The template file a baked file came from, or None if several could have."""
    parts = [
        "{{cookiecutter.package_name}}" if part == MARKERS["package_name"][0] else part
        for part in baked_relative.parts
    ]
    plain = TEMPLATE.joinpath(*parts)
    if plain.exists():
        return plain
    conditional = plain.with_name(
        f"{{% if cookiecutter.connector_kind == '{kind}' %}}{plain.name}{{% endif %}}"
    )
    return conditional if conditional.exists() else None


def main(check: bool) -> int:
    ruff = shutil.which("ruff", path=Path(sys.executable).parent) or shutil.which("ruff")
    if ruff is None:
        sys.exit("ruff is not installed: pip install --group test")
    changed = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("executing", "inventory"):
            answers = {key: marker for key, (marker, _) in MARKERS.items()}
            project = Path(
                cookiecutter(
                    str(ROOT),
                    no_input=True,
                    output_dir=f"{scratch}/{kind}",
                    # The oldest Python offered: ruff's fixes must keep the code valid on it.
                    extra_context={**answers, "connector_kind": kind, "min_python": "3.10"},
                    accept_hooks=False,  # quiet; the files another kind uses map back all the same
                )
            )
            subprocess.run([ruff, "check", "--fix", "--quiet", "--exit-zero", "."], cwd=project, check=True)
            subprocess.run([ruff, "format", "--quiet", "."], cwd=project, check=True)
            for baked in sorted(project.rglob("*.py")):
                source = template_path(baked.relative_to(project), kind)
                if source is None:
                    continue
                text = baked.read_text(encoding="utf-8")
                for marker, jinja in MARKERS.values():
                    text = text.replace(marker, jinja)
                if source.read_text(encoding="utf-8") != text:
                    changed.append(source.relative_to(ROOT))
                    if not check:
                        source.write_text(text, encoding="utf-8")
    for path in sorted(set(changed)):
        print(f"{'would reformat' if check else 'reformatted'} {path}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
