"""Lab networking: one private /24 per lab on a bridge, one network namespace per host.

Hosts get only their connected /24 route (no default route), and firewall rules on the machine drop
anything from the bridge that is not addressed to the bridge address itself, and anything the machine
would forward into or out of the bridge. So a host reaches its lab peers and the machine-side bridge
address (where the registry / apt repo of a test listen), and nothing else, even if a role adds a route.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import subprocess
from pathlib import Path

from bundler.lab.errors import LabError
from bundler.lab.sysrun import quiet, run

NETNS_DIR = Path("/run/netns")


def bridge_name(octet: int) -> str:
    return f"wbl{octet}"


def veth_name(octet: int, index: int) -> str:
    return f"wbl{octet}h{index}"  # <= 15 chars for octet <= 255, index <= 999


def netns_name(lab: str, host: str) -> str:
    return f"wbl-{lab}-{host}"


def fw_comment(lab: str) -> str:
    return f"wire-bundle-lab:{lab}"


def _ip_json(*args: str) -> list[dict]:
    proc = subprocess.run(["ip", "-j", *args], capture_output=True, text=True)
    return json.loads(proc.stdout or "[]") if proc.returncode == 0 else []


def networks_in_use() -> list[ipaddress.IPv4Network]:
    """IPv4 networks this machine already routes or has addresses in (any table)."""
    nets: list[ipaddress.IPv4Network] = []
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst = route.get("dst", "")
        if dst and dst != "default" and route.get("type", "unicast") in ("unicast", "local", "broadcast"):
            try:
                nets.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
            except ValueError:
                continue
    for link in _ip_json("-4", "addr"):
        for a in link.get("addr_info", []):
            nets.append(ipaddress.IPv4Network(f"{a['local']}/{a.get('prefixlen', 32)}", strict=False))
    return nets


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def choose_subnet(pool: str, taken_by_labs: set[str]) -> ipaddress.IPv4Network:
    """First /24 of the pool that no other lab, route or interface on this machine uses."""
    in_use = networks_in_use()
    pool_net = ipaddress.ip_network(pool)
    if not isinstance(pool_net, ipaddress.IPv4Network):
        raise LabError(f"lab subnet pool {pool}: not an IPv4 network")
    for net in pool_net.subnets(new_prefix=24):
        octet = int(net.network_address.packed[2])
        if octet == 0 or str(net) in taken_by_labs or link_exists(bridge_name(octet)):
            continue
        if any(net.overlaps(u) for u in in_use):
            continue
        return net
    raise LabError(f"no free /24 left in the lab subnet pool {pool}: every one is used by a lab, route or "
                   f"interface on this machine (`wire-bundle lab status` lists labs)")


def create_bridge(lab: str, octet: int, bridge_ip: str) -> None:
    br = bridge_name(octet)
    what = f"lab {lab}: creating bridge {br}"
    run(["ip", "link", "add", br, "type", "bridge"], what=what)
    # No IPv6 on the bridge: a link-local address would be a path to the machine the firewall does not cover.
    quiet(["sysctl", "-qw", f"net.ipv6.conf.{br}.disable_ipv6=1"])
    run(["ip", "addr", "add", f"{bridge_ip}/24", "dev", br], what=what)
    run(["ip", "link", "set", br, "up"], what=what)
    add_firewall(lab, br, bridge_ip)


def add_firewall(lab: str, br: str, bridge_ip: str) -> None:
    c = ["-m", "comment", "--comment", fw_comment(lab)]
    rules = [
        ["INPUT", "-i", br, "!", "-d", bridge_ip, *c, "-j", "DROP"],
        ["INPUT", "-i", br, *c, "-j", "ACCEPT"],
        # Host-to-host frames cross FORWARD only when br_netfilter is loaded; they must still pass.
        ["FORWARD", "-i", br, "-o", br, *c, "-j", "ACCEPT"],
        ["FORWARD", "-i", br, *c, "-j", "DROP"],
        ["FORWARD", "-o", br, *c, "-j", "DROP"],
    ]
    # Inserted in reverse at position 1 so they end up first, in this order, ahead of any ACCEPT.
    for rule in reversed(rules):
        run(["iptables", "-w", "-I", rule[0], "1", *rule[1:]], what=f"lab {lab}: firewall rule on {br}")


def remove_firewall(lab: str) -> list[str]:
    """Delete every iptables rule carrying this lab's comment; returns rules it could not delete."""
    left = []
    for chain in ("INPUT", "FORWARD"):
        proc = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if fw_comment(lab) in line and line.startswith("-A "):
                args = shlex.split(line)
                args[0] = "-D"
                if not quiet(["iptables", "-w", *args]):
                    left.append(line)
    return left


def firewall_rules(lab: str) -> list[str]:
    out = []
    for chain in ("INPUT", "FORWARD"):
        proc = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True)
        out += [ln for ln in proc.stdout.splitlines() if fw_comment(lab) in ln]
    return out


def create_host_net(lab: str, host: str, octet: int, index: int, address: str) -> None:
    ns, veth, br = netns_name(lab, host), veth_name(octet, index), bridge_name(octet)
    what = f"lab {lab}: network of host {host}"
    run(["ip", "netns", "add", ns], what=what)
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns], what=what)
    quiet(["sysctl", "-qw", f"net.ipv6.conf.{veth}.disable_ipv6=1"])
    run(["ip", "link", "set", veth, "master", br, "up"], what=what)
    for key in ("all", "default", "eth0"):
        quiet(["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"])
    run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"], what=what)
    run(["ip", "-n", ns, "link", "set", "eth0", "up"], what=what)
    run(["ip", "-n", ns, "link", "set", "lo", "up"], what=what)


def netns_pids(ns: str) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def lab_netns(lab: str) -> list[str]:
    prefix = f"wbl-{lab}-"
    return sorted(p.name for p in NETNS_DIR.glob(prefix + "*")) if NETNS_DIR.is_dir() else []


def lab_links(octet: int) -> list[str]:
    """The bridge and host-side veths of the lab using this octet (the names are unique per octet)."""
    br = bridge_name(octet)
    names = []
    for p in Path("/sys/class/net").iterdir():
        n = p.name
        if n == br or (n.startswith(br + "h") and n[len(br) + 1:].isdigit()):
            names.append(n)
    return sorted(names)


def remove_net(lab: str, octet: int | None, hosts: list[str]) -> None:
    for ns in sorted(set(lab_netns(lab)) | {netns_name(lab, h) for h in hosts}):
        if (NETNS_DIR / ns).exists():
            quiet(["ip", "netns", "del", ns])
    if octet is not None:
        # veths first (deleting the netns normally removes them with their peer), then the bridge.
        for link in sorted(lab_links(octet), key=lambda n: n == bridge_name(octet)):
            quiet(["ip", "link", "del", link])
    remove_firewall(lab)
