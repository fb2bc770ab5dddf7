"""Each role's variables, read from its defaults/main.yml and meta/argument_specs.yml, and the table its README
shows of them. `python -m tests.roles.docs` rewrites the tables from the specs (the test checks they agree)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in (REPO / "roles").glob("*/tasks/main.yml"))
BEGIN = "<!-- variables: generated from meta/argument_specs.yml by `python -m tests.roles.docs` -->"
END = "<!-- end of variables -->"


def defaults(role: str) -> dict:
    return yaml.safe_load((REPO / "roles" / role / "defaults/main.yml").read_text()) or {}


def options(role: str) -> dict[str, dict]:
    spec = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


def templated(value) -> bool:
    """A default Ansible computes when the role runs (it holds a Jinja expression)."""
    return "{{" in json.dumps(value)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(opt: dict) -> str:
    if opt.get("required"):
        return "required"
    if "default" not in opt:
        return "computed, see `defaults/main.yml`"
    shown = json.dumps(opt["default"])
    return f"`{shown}`" if len(shown) <= 60 else "see `defaults/main.yml`"


def table(role: str) -> str:
    """The README's section: one row per option of the role's main entry point, in the spec's order."""
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, opt in options(role).items():
        kind = opt["type"] + (f" of {opt['elements']}" if "elements" in opt else "")
        if "choices" in opt:
            kind += " (" + ", ".join(map(str, opt["choices"])) + ")"
        rows.append(f"| `{name}` | {kind} | {_cell(_default(opt))} | {_cell(opt['description'])} |")
    return "\n".join([BEGIN, *rows, END])


def readme_section(role: str) -> str | None:
    text = (REPO / "roles" / role / "README.md").read_text()
    if BEGIN not in text or END not in text:
        return None
    return text[text.index(BEGIN):text.index(END) + len(END)]


def write(role: str) -> None:
    path = REPO / "roles" / role / "README.md"
    text = path.read_text()
    current = readme_section(role)
    if current is None and "\n## Variables\n" in text:
        text = text.replace("\n## Variables\n\n", "\n## Variables\n\n" + table(role) + "\n\n", 1)
    elif current is None:
        text = text.rstrip("\n") + "\n\n## Variables\n\n" + table(role) + "\n"
    else:
        text = text.replace(current, table(role))
    path.write_text(text)


if __name__ == "__main__":
    for name in ROLES:
        write(name)
