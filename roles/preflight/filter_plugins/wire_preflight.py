"""Filters that let the preflight role use wire-bundle's own rules (bundler.island.preflight) on the controller.

They run in the controller's Python, where wire-bundle is installed (the admin host), so the playbook and
`wire-bundle preflight` judge with the same code and the same data files.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import bundler.island.preflight  # noqa: F401
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from bundler.island.preflight import matrix, render, report, requirements  # noqa: E402
from bundler.island.preflight.inventory import from_hostvars  # noqa: E402
from bundler.island.preflight.rules import load_profile  # noqa: E402


def _profile(inv, name):
    return load_profile(name, inv.sizing_overrides())


def wire_preflight_requirements(hostvars, groups, host, profile):
    inv = from_hostvars(hostvars, groups)
    return requirements.host_requirements(inv.hosts[host], _profile(inv, profile))


def wire_preflight_listen_ports(hostvars, groups, host):
    return matrix.listen_ports(from_hostvars(hostvars, groups), host)


def wire_preflight_probe_targets(hostvars, groups, host):
    return matrix.probe_targets(from_hostvars(hostvars, groups), host)


def wire_preflight_report(hostvars, groups, hosts, profile, ignores=None):
    inv = from_hostvars(hostvars, groups, list(hosts))
    return report.build_report(inv, _profile(inv, profile), list(ignores or []))


def wire_preflight_summary(result):
    return render.plain_lines(result)


class FilterModule:
    def filters(self):
        return {
            "wire_preflight_requirements": wire_preflight_requirements,
            "wire_preflight_listen_ports": wire_preflight_listen_ports,
            "wire_preflight_probe_targets": wire_preflight_probe_targets,
            "wire_preflight_report": wire_preflight_report,
            "wire_preflight_summary": wire_preflight_summary,
        }
