"""Showing a pre-flight report: a rich table per host for people, plain lines for Ansible's output."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "ignored": "dim"}
ORDER = {"fail": 0, "warn": 1, "pass": 2}


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [c for key in ("fail", "warn", "ignored", "pass") for c in result.get(key, [])]
    return sorted(rows, key=lambda c: (c["host"] or "", ORDER[c["status"]], c["id"]))


def _label(c: dict[str, Any]) -> str:
    return f"ignored ({c['status']})" if c.get("ignored") and c["status"] != "pass" else c["status"]


def plain_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"pre-flight {result['status'].upper()} (profile {result['profile']}): "
             + ", ".join(f"{n} {k}" for k, n in result["summary"].items())]
    for c in _rows(result):
        if c["status"] == "pass":
            continue
        where = c["host"] or "inventory"
        lines.append(f"{_label(c):>14}  {where}  {c['id']}: required {c['required']}, found {c['found']}"
                     + (f" ({c['message']})" if c.get("message") else ""))
    return lines


def print_tables(result: dict[str, Any], console: Console, show_pass: bool = True) -> None:
    rows = _rows(result)
    scopes = sorted({c["host"] for c in rows if c["host"]}) + [None]
    for scope in scopes:
        mine = [c for c in rows if c["host"] == scope and (show_pass or c["status"] != "pass")]
        if not mine:
            continue
        if scope:
            info = result["hosts"].get(scope, {})
            title = f"{scope} ({info.get('address', '')}) groups: {', '.join(info.get('groups', [])) or '-'}"
        else:
            title = "inventory (group checks)"
        table = Table(title=title, title_justify="left", expand=False)
        for col in ("check", "status", "required", "found", "note"):
            table.add_column(col, overflow="fold")
        for c in mine:
            label = _label(c)
            style = STYLE["ignored"] if label.startswith("ignored") else STYLE[c["status"]]
            table.add_row(c["id"], f"[{style}]{label}[/]", str(c["required"]), str(c["found"]),
                          c.get("message") or "")
        console.print(table)
    s = result["summary"]
    style = STYLE[result["status"]]
    console.print(f"[{style}]pre-flight {result['status'].upper()}[/] (profile {result['profile']}): "
                  f"{s['fail']} failed, {s['warn']} warnings, {s['ignored']} ignored, {s['pass']} passed")
