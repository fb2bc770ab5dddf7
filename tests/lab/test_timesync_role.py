"""The timesync role's refusals, against a real lab host (its happy path is the molecule scenario)."""

from __future__ import annotations

import pytest

from bundler.lab import HostSpec

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def chrony_lab(make_lab):
    return make_lab("ts", [HostSpec("t1", groups=["clients"], packages=["chrony"])])


def play(tmp_path, extravars: str) -> str:
    p = tmp_path / "play.yml"
    p.write_text("- name: Timesync\n  hosts: all\n  gather_facts: false\n  roles: [timesync]\n"
                 f"  vars: {extravars}\n")
    return str(p)


def test_refuses_without_any_time_source(chrony_lab, run_playbook, tmp_path):
    r = run_playbook(play(tmp_path, "{}"), chrony_lab.inventory_path)
    assert r.rc != 0 and "t1" in r.stats["failures"]
    assert "set timesync_servers" in r.stdout


def test_clock_control_in_a_container_is_a_clear_failure_not_a_silent_skip(chrony_lab, run_playbook, tmp_path):
    # Lab hosts have no CAP_SYS_TIME, like many containers: chrony's unit condition fails.
    r = run_playbook(play(tmp_path, "{timesync_servers: [lab-gateway], timesync_control_clock: true}"),
                     chrony_lab.inventory_path)
    assert r.rc != 0
    assert "needs timesync_control_clock: false" in r.stdout
    ok = run_playbook(play(tmp_path, "{timesync_servers: [lab-gateway], timesync_control_clock: false}"),
                      chrony_lab.inventory_path)
    assert ok.rc == 0, ok.stdout[-2000:]
    assert chrony_lab.run("t1", "systemctl is-active chrony").stdout.strip() == "active"
    assert "lab-gateway" in chrony_lab.run("t1", "chronyc -n sources; cat /etc/chrony/chrony.conf").stdout
