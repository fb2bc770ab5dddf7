"""Helpers for the island tests: the asset host role's seeding module, loaded from the role, and a read-only
docker-registry started on a seeded storage directory (the way the role configures it)."""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path

import requests
import yaml

from tests.support.netutil import free_port

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "roles" / "asset_host" / "library" / "wire_registry_seed.py"


def seed_module():
    spec = importlib.util.spec_from_file_location("wire_registry_seed", MODULE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class ReadOnlyRegistry:
    """docker-registry serving `root` in maintenance read-only mode on 127.0.0.1."""

    def __init__(self, root: Path, workdir: Path, address: str = "127.0.0.1"):
        self.address = address
        self.port = free_port()
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(root)},
                        "maintenance": {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}},
            "http": {"addr": f"{address}:{self.port}", "secret": "stand-in"},
        }
        cfg = workdir / "readonly-registry.yml"
        cfg.write_text(yaml.safe_dump(config))
        self.log = workdir / "readonly-registry.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(cfg)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v2/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"read-only registry did not start: {self.log.read_text()[-1000:]}")

    @property
    def host(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
