"""The connectivity matrix: which ports each host opens for the test and which peers it probes."""

from __future__ import annotations

from typing import Any

from bundler.island.preflight.inventory import Inventory
from bundler.island.preflight.rules import parse_port, rules


def check_id(entry: dict[str, Any]) -> str:
    proto, port = parse_port(entry["port"])
    return f"net.{entry['from']}.{entry['to']}.{proto}{port}"


def listen_ports(inventory: Inventory, host_name: str) -> list[dict[str, Any]]:
    """Ports this host must answer on because some peer is expected to reach it there."""
    wanted = set()
    for entry in rules()["connectivity"]:
        sources = inventory.members(entry["from"])
        if any(h.name == host_name for h in inventory.members(entry["to"])) and any(
            s.name != host_name for s in sources
        ):
            wanted.add(parse_port(entry["port"]))
    return [{"proto": p, "port": n} for p, n in sorted(wanted)]


def probe_targets(inventory: Inventory, host_name: str) -> list[dict[str, Any]]:
    targets = []
    for entry in rules()["connectivity"]:
        if not any(h.name == host_name for h in inventory.members(entry["from"])):
            continue
        proto, port = parse_port(entry["port"])
        for peer in inventory.members(entry["to"]):
            if peer.name == host_name:
                continue
            targets.append({"id": check_id(entry), "host": peer.name, "address": peer.address, "proto": proto,
                            "port": port, "probe": entry.get("probe", "stun" if proto == "udp" else "connect"),
                            "message": f"{entry['from']} must reach {entry['to']} on {proto}/{port}"})
    return targets


def expected_ids(inventory: Inventory, host_name: str) -> set[str]:
    return {t["id"] for t in probe_targets(inventory, host_name)}
