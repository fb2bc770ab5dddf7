"""Filters that let the preflight role use wire-bundle's own rules (bundler.island.preflight) on the controller.

They run in the controller's Python, where wire-bundle is installed (the admin host, or the checkout's venv), so
the playbook and `wire-bundle preflight` judge with the same code and the same data files. wire-bundle is
imported as an installed package, never from a path worked out here: a controller without it gets one line
saying so when the role first uses a filter.
"""

from __future__ import annotations

import importlib
import sys

from ansible.errors import AnsibleFilterError


def _preflight(module: str):
    try:
        return importlib.import_module(f"bundler.island.preflight.{module}")
    except ImportError as e:
        raise AnsibleFilterError(
            f"preflight role: wire-bundle is not installed in the controller's Python ({sys.executable}): run "
            f"ansible from wire-bundle's environment (`wire-bundle preflight`, or its venv's ansible-playbook): {e}"
        ) from None


def _inventory(hostvars, groups, hosts=None):
    return _preflight("inventory").from_hostvars(hostvars, groups, None if hosts is None else list(hosts))


def _profile(inv, name):
    return _preflight("rules").load_profile(name, inv.sizing_overrides())


def wire_preflight_requirements(hostvars, groups, host, profile):
    inv = _inventory(hostvars, groups)
    return _preflight("requirements").host_requirements(inv.hosts[host], _profile(inv, profile))


def wire_preflight_listen_ports(hostvars, groups, host):
    return _preflight("matrix").listen_ports(_inventory(hostvars, groups), host)


def wire_preflight_probe_targets(hostvars, groups, host):
    return _preflight("matrix").probe_targets(_inventory(hostvars, groups), host)


def wire_preflight_report(hostvars, groups, hosts, profile, ignores=None):
    inv = _inventory(hostvars, groups, hosts)
    return _preflight("report").build_report(inv, _profile(inv, profile), list(ignores or []))


def wire_preflight_summary(result):
    return _preflight("render").plain_lines(result)


class FilterModule:
    def filters(self):
        return {
            "wire_preflight_requirements": wire_preflight_requirements,
            "wire_preflight_listen_ports": wire_preflight_listen_ports,
            "wire_preflight_probe_targets": wire_preflight_probe_targets,
            "wire_preflight_report": wire_preflight_report,
            "wire_preflight_summary": wire_preflight_summary,
        }
