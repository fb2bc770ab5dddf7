"""`wire-bundle deploy` through real ansible-runner and ansible-playbook, on this machine (connection local)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli

PLAYBOOK = """
- name: Stand-in play
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing to do
      ansible.builtin.debug:
        msg: hello
    - name: Make a change
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ inventory_hostname }}.txt"
        content: "{{ inventory_hostname }}\\n"
        mode: "0644"
    - name: Break on the unlucky host
      ansible.builtin.command: /bin/false
      changed_when: false
      when: inventory_hostname == 'unlucky'
    - name: Runs only in check mode
      ansible.builtin.debug:
        msg: checking
      when: ansible_check_mode
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "stand-in.yml").write_text(PLAYBOOK)
    inv = tmp_path / "inventory.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inv.write_text(json.dumps({"all": {"hosts": {"lucky": local, "unlucky": local}}}))
    return tmp_path


def _deploy(project, *args):
    return run_cli("deploy", "-i", project / "inventory.yml", project / "playbooks" / "stand-in.yml",
                   "-e", f"out_dir={project}", *args, timeout=300)


def test_recap_failure_line_and_event_log(project):
    r = _deploy(project, "--run-dir", project / "run")
    assert r.rc == 1
    recap = {ln.split()[0]: ln for ln in r.out.splitlines() if "ok=" in ln}
    assert set(recap) == {"lucky", "unlucky"}
    assert "changed=1 " in recap["lucky"] and "failed=0 " in recap["lucky"]
    assert "failed=1 " in recap["unlucky"]
    assert "FAILED unlucky: task 'Break on the unlucky host': " in r.err
    assert "error: deploy: stand-in.yml failed on 1 host(s): unlucky" in r.err
    assert "TASK Make a change" in r.err  # progress, one line per task when not on a terminal
    events = [json.loads(ln) for ln in (project / "run" / "events.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["result"] == "failed"]
    assert [(e["host"], e["task"]) for e in failed] == [("unlucky", "Break on the unlucky host")]
    assert list((project / "run" / "artifacts" / "run" / "job_events").glob("*.json"))
    assert (project / "lucky.txt").read_text() == "lucky\n"


def test_check_and_limit_pass_through(project):
    r = _deploy(project, "--check", "--limit", "lucky", "--run-dir", project / "run")
    assert r.rc == 0, r.err
    assert [ln.split()[0] for ln in r.out.splitlines() if "ok=" in ln] == ["lucky"]
    assert not (project / "lucky.txt").exists()  # check mode changed nothing
    tasks = {json.loads(ln)["task"] for ln in (project / "run" / "events.jsonl").read_text().splitlines()
             if json.loads(ln)["result"] == "ok"}
    assert "Runs only in check mode" in tasks


def test_bad_input_is_one_line(project, tmp_path):
    r = run_cli("deploy", "-i", project / "inventory.yml", "no-such-playbook.yml")
    assert r.rc == 1 and r.err.startswith("error: playbook no-such-playbook.yml: no such file")
    r = _deploy(project, "-e", "novalue")
    assert r.rc == 1 and "expected KEY=VALUE" in r.err
    broken = project / "playbooks" / "broken.yml"
    broken.write_text("- hosts: all\n  tasks:\n    - ansible.builtin.debug: {msg: [unclosed\n")
    r = run_cli("deploy", "-i", project / "inventory.yml", broken, "--run-dir", tmp_path / "r")
    assert r.rc == 1 and "failed before any task ran" in r.err and "Traceback" not in r.err
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "x").write_text("")
    r = _deploy(project, "--run-dir", tmp_path / "r2")
    assert r.rc == 1 and "is not empty" in r.err
