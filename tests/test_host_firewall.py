"""The critical-path hosts' firewall, as nft parses it and as the kernel applies it.

The ruleset is the one phase two writes (extracted by bash from the converge script the program
declares); ``nft -c`` checks it, then it is loaded in network namespaces the test makes.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess

from conftest import require_tool
from offline import engine as offline


def test_every_hosts_firewall_is_valid_nftables_and_an_invalid_one_is_not(host_files, tmp_path):
    nft = require_tool("nft")
    for role, (root, _) in host_files.items():
        check = subprocess.run([nft, "-c", "-f", str(root / "etc/nftables.conf")], capture_output=True, text=True)
        assert check.returncode == 0, f"{role}: {check.stderr}"
    broken = tmp_path / "broken.nft"
    broken.write_text(host_files["strategy"][1]["/etc/nftables.conf"].replace("policy drop", "policy maybe"))
    assert subprocess.run([nft, "-c", "-f", str(broken)], capture_output=True).returncode != 0


# ---- the firewall's behaviour, in network namespaces the test makes --------------------------
#
# Three namespaces joined by veth pairs, no traffic leaves the machine: "host" loads the
# ruleset; "cluster" sits on its private0 (the VLAN's name) with a node address and a peer host's
# address; "outside" sits on its uplink with an allow-listed address, a stranger's and a spoofed
# private one.  A permissive run (no ruleset) first shows every path works, so each refusal
# below is the ruleset's doing.

SERVE = """
import socket, selectors, sys
sel = selectors.DefaultSelector()
for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in (22, 9100, 8080):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((address, port)); s.listen(); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); conn.close()
"""
CONNECT = """
import socket, sys
source, target, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in target else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(1.5); s.bind((source, 0))
try:
    s.connect((target, port)); print("open")
except OSError:
    print("closed")
"""


class Namespaces:
    def __init__(self, tag: str):
        self.names = {n: f"tp{tag}-{n}" for n in ("host", "cluster", "outside")}

    def run(self, ns: str, *command: str, check: bool = True) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.names[ns], *command], capture_output=True, text=True)
        assert not check or done.returncode == 0, done.stderr
        return done.stdout

    def __enter__(self) -> Namespaces:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "add", name], check=True)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], check=False)


def _wire(ns: Namespaces, host_ip: str, prefix: int, peer_ip: str) -> None:
    h, c, o = ns.names["host"], ns.names["cluster"], ns.names["outside"]
    subprocess.run(
        ["ip", "link", "add", "private0", "netns", h, "type", "veth", "peer", "name", "vlanpeer", "netns", c],
        check=True,
    )
    subprocess.run(
        ["ip", "link", "add", "eno1", "netns", h, "type", "veth", "peer", "name", "uplinkpeer", "netns", o], check=True
    )
    for where, commands in {
        "host": [
            "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0",
            "ip link set lo up",
            "ip link set private0 up",
            "ip link set eno1 up",
            f"ip addr add {host_ip}/{prefix} dev private0",
            "ip addr add 198.18.0.1/24 dev eno1",
            "ip -6 addr add fd00::1/64 dev eno1 nodad",
            "ip route add 203.0.113.0/24 via 198.18.0.2",
            "ip route add 192.0.2.0/24 via 198.18.0.2",
            "ip route add 172.16.19.250/32 via 198.18.0.2",
        ],
        "cluster": [
            "ip link set lo up",
            "ip link set vlanpeer up",
            f"ip addr add 172.16.16.200/{prefix} dev vlanpeer",
            f"ip addr add {peer_ip}/{prefix} dev vlanpeer",
        ],
        "outside": [
            "ip link set lo up",
            "ip link set uplinkpeer up",
            "ip addr add 198.18.0.2/24 dev uplinkpeer",
            "ip addr add 203.0.113.1/32 dev uplinkpeer",
            "ip addr add 192.0.2.50/32 dev uplinkpeer",
            "ip addr add 172.16.19.250/32 dev uplinkpeer",
            "ip -6 addr add fd00::2/64 dev uplinkpeer nodad",
            "ip route add default via 198.18.0.1",
        ],
    }.items():
        for command in commands:
            ns.run(where, *command.split())


PATHS = {  # (from namespace, source address, port) -> open with the ruleset?
    "node scrapes node-exporter on the VLAN": ("cluster", "172.16.16.200", 9100, True),
    "node reaches a service port": ("cluster", "172.16.16.200", 8080, False),
    "peer host reaches a service port": ("cluster", "PEER", 8080, True),
    "allow-listed SSH on the uplink": ("outside", "203.0.113.1", 22, True),
    "stranger's SSH": ("outside", "192.0.2.50", 22, False),
    "private source spoofed on the uplink": ("outside", "172.16.19.250", 9100, False),
}


def test_the_firewall_lets_through_what_it_should_and_nothing_else(prod, host_files, tmp_path):
    require_tool("ip")
    nft = require_tool("nft")
    ips = offline.unwrap(prod.outputs["critical_path_private_ips"])
    host_ip, peer_ip = ips["market-data"], ips["strategy"]
    ruleset = host_files["market-data"][1]["/etc/nftables.conf"]
    prefix = ipaddress.IPv4Network(offline.read_stack_file("prod").values["privateSubnet"]).prefixlen
    with Namespaces(str(os.getpid())) as ns:
        _wire(ns, host_ip, prefix, peer_ip)
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns.names["host"], "python3", "-c", SERVE], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"

            def outcome(path: str) -> bool:
                where, source, port, _ = PATHS[path]
                source = peer_ip if source == "PEER" else source
                target = host_ip if where == "cluster" else "198.18.0.1"
                return ns.run(where, "python3", "-c", CONNECT, source, target, str(port)).strip() == "open"

            def neighbour_resolved() -> bool:
                ns.run("outside", "ip", "-6", "neigh", "flush", "dev", "uplinkpeer")
                ns.run("outside", "python3", "-c", CONNECT, "fd00::2", "fd00::1", "22")
                state = ns.run("outside", "ip", "-6", "neigh", "show", "fd00::1", "dev", "uplinkpeer")
                return bool(state.strip()) and not any(s in state for s in ("FAILED", "INCOMPLETE"))

            assert all(outcome(p) for p in PATHS), "without a ruleset every path must be open"
            assert neighbour_resolved()
            (tmp_path / "rules.nft").write_text(ruleset)
            ns.run("host", nft, "-f", str(tmp_path / "rules.nft"))
            assert {p: outcome(p) for p in PATHS} == {p: want for p, (*_, want) in PATHS.items()}
            assert neighbour_resolved(), "IPv6 neighbour discovery must pass the firewall"
            without_nd = "\n".join(line for line in ruleset.splitlines() if "nd-neighbor" not in line) + "\n"
            (tmp_path / "no-nd.nft").write_text(without_nd)
            ns.run("host", nft, "-f", str(tmp_path / "no-nd.nft"))
            assert not neighbour_resolved(), "the ND check must see a ruleset that drops ND"
        finally:
            server.terminate()
            server.wait(timeout=10)
