"""Every release of releases.yaml, as `wire-bundle values` writes it for the production example inventory (as
shipped, and with federation, http(s) proxies and the separate websocket load balancer on), rendered by real helm
from Wire's real 5.29.0 packages (the `wire_release` fixture), in install order, with the objects checked for the
settings they must carry.

Charts build.json names that cannot be had here (the fixture's `unavailable`) are named with the reason, never
skipped silently. PENDING names releases whose values are still being made to render (another part of issue 12):
they must fail today, so the entry has to go the moment they render.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tarfile
import warnings
from pathlib import Path

import pytest
import yaml

from bundler.charts.render import find_helm
from bundler.values.defaults import data
from bundler.values.vault import decrypt
from tests.support.cli import run_cli

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "wire.example.com"  # the production example's wire_domain
PASSWORD = "example-only"
OPTIONS = {
    "wire_federation_enabled": True,
    "wire_http_proxy": "http://proxy.wire.example.com:3128",
    "wire_https_proxy": "http://proxy.wire.example.com:3128",
    "wire_websocket_lb": {"enabled": True},
}
# release -> why it does not render yet (with the options of that variant, or all of them).
PENDING: dict[str, str] = {}


def _objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _one(objs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind}/{name}: {[o['metadata']['name'] for o in objs if o['kind'] == kind]}"
    return found[0]


def _env(workload: dict, container: str) -> dict[str, str]:
    c = next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == container)
    return {e["name"]: e.get("value") for e in c.get("env") or []}


class Rendered:
    def __init__(self, order: list[str], objs: dict[str, list[dict]], failed: dict[str, str],
                 unavailable: dict[str, str], cert: Path):
        self.order, self.objs, self.failed, self.unavailable, self.cert = order, objs, failed, unavailable, cert


def _values(root: Path, options: dict) -> tuple[Path, Path]:
    inv = root / "production"
    shutil.copytree(REPO / "inventory" / "examples" / "production", inv)
    certs = root / "certs"  # where the example's ../certs/ points: beside the inventory, out of Ansible's way
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "30", "-subj", f"/CN=*.{DOMAIN}", "-addext", f"subjectAltName=DNS:*.{DOMAIN}",
                    "-keyout", str(certs / "wildcard.key"), "-out", str(certs / "wildcard.crt")],
                   check=True, capture_output=True, timeout=60)
    (root / "pass").write_text(PASSWORD + "\n")
    args = ["values", "-i", inv, "-o", root / "values", "--vault-password-file", root / "pass"]
    if options:
        if options.get("wire_federation_enabled"):
            # The remote backends' CA (required with federation): any PEM certificate stands for it here.
            options = {**options, "wire_federation_ca_file": str(certs / "wildcard.crt")}
        (root / "options.yaml").write_text(yaml.safe_dump(options))
        args += ["--settings", root / "options.yaml"]
    r = run_cli(*args, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    return root / "values", certs / "wildcard.crt"


def _render(root: Path, release, options: dict) -> Rendered:
    out, cert = _values(root, options)
    manifest = yaml.safe_load((out / "releases.yaml").read_text())
    secrets = decrypt(out / "secrets.vault.yaml", PASSWORD.encode()).get("releases", {})
    helm, home = find_helm(), root / "helm"
    env = {"HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_DATA_HOME": str(home / "data"), "PATH": "/usr/bin:/bin"}
    objs, failed, unavailable = {}, {}, {}
    for rel in manifest["releases"]:
        name, chart = rel["name"], rel["chart"]
        if chart in release.unavailable:
            unavailable[name] = release.unavailable[chart]
            continue
        files = ["-f", str(out / rel["values"])]
        if name in secrets:
            sfile = root / f"{name}-secrets.yaml"
            sfile.write_text(yaml.safe_dump(secrets[name]))
            files += ["-f", str(sfile)]
        # The release's own name: charts name objects after it (redis-ephemeral's Service is gundeck's host).
        p = subprocess.run([helm, "template", name, str(release.packages[chart]), "--namespace",
                            manifest["namespace"], *files], capture_output=True, text=True, timeout=120, env=env)
        if p.returncode != 0:
            failed[name] = p.stderr.strip()
        else:
            objs[name] = _objects(p.stdout)
    return Rendered([r["name"] for r in manifest["releases"]], objs, failed, unavailable, cert)


@pytest.fixture(scope="module", params=["as-shipped", "options"])
def rendered(request, wire_release, tmp_path_factory) -> Rendered:
    options = OPTIONS if request.param == "options" else {}
    r = _render(tmp_path_factory.mktemp(f"releases-{request.param}"), wire_release, options)
    r.variant = request.param
    return r


def _pending(r: Rendered, name: str) -> str | None:
    return PENDING.get(name) or (PENDING.get(f"{name}+options") if r.variant == "options" else None)


def test_every_release_renders_in_install_order_from_the_real_charts(rendered):
    r = rendered
    want = [e["name"] for e in data()["releases"] if e["name"] in r.order]
    assert r.order == want, "releases.yaml is not in the data file's install order"
    for must in ("cassandra-external", "redis-ephemeral", "fake-aws", "ingress-nginx-controller",
                 "nginx-ingress-services", "wire-server", "webapp", "team-settings", "account-pages", "sftd"):
        assert must in r.order, must
    assert r.order.index("redis-ephemeral") < r.order.index("wire-server") < r.order.index("webapp")
    assert r.order.index("ingress-nginx-controller") < r.order.index("nginx-ingress-services")
    for name, why in r.unavailable.items():
        warnings.warn(f"release {name} not rendered: {why}", stacklevel=1)
    for name in r.order:
        if name in r.unavailable:
            continue
        if _pending(r, name):
            assert name in r.failed, f"{name} renders now: remove it from PENDING ({_pending(r, name)})"
        else:
            assert name not in r.failed, f"{name}: {r.failed[name]}"
            assert r.objs[name], f"{name} rendered no objects"


def test_web_apps_talk_to_this_installation(rendered):
    objs = rendered.objs
    web = _env(_one(objs["webapp"], "Deployment", "webapp"), "webapp")
    assert web["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"
    assert web["BACKEND_WS"] == f"wss://nginz-ssl.{DOMAIN}"
    assert web["APP_BASE"] == f"https://webapp.{DOMAIN}"
    assert web["URL_TEAMS_BASE"] == f"https://teams.{DOMAIN}" and web["URL_ACCOUNT_BASE"] == f"https://account.{DOMAIN}"
    assert web["CSP_EXTRA_CONNECT_SRC"] == f"https://*.{DOMAIN}, wss://*.{DOMAIN}"
    assert _one(objs["webapp"], "Deployment")["spec"]["replicas"] == 3

    teams = _env(_one(objs["team-settings"], "Deployment", "team-settings"), "team-settings")
    assert teams["APP_BASE"] == f"https://teams.{DOMAIN}/" and teams["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"
    assert teams["IS_SELF_HOSTED"] == "true" and teams["URL_WEBAPP_BASE"] == f"https://webapp.{DOMAIN}"
    # The chart's image pull secret: an empty docker config (the island's registry mirror needs no credentials).
    pull = _one(objs["team-settings"], "Secret", "wire-teamsettings-readonly-pull-secret")
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    assert base64.b64decode(pull["data"][".dockerconfigjson"]) == b"{}\n"

    account = _env(_one(objs["account-pages"], "Deployment", "account-pages"), "account-pages")
    assert account["APP_BASE"] == f"https://account.{DOMAIN}"
    assert account["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"


def test_sftd_runs_on_the_host_network_of_the_sft_nodes_with_the_wildcard_certificate(rendered):
    objs = rendered.objs["sftd"]
    sts = _one(objs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["nodeSelector"] == {"wire.com/role": "sftd"}
    hosts = yaml.safe_load((REPO / "inventory/examples/production/hosts.yml").read_text())
    assert sts["spec"]["replicas"] == len(hosts["all"]["children"]["sft"]["hosts"])
    script = next(c for c in spec["containers"] if c["name"] == "sftd")["command"][-1]
    assert f'-u "https://sftd.{DOMAIN}/sfts/${{POD_NAME}}"' in script
    tls = next(o for o in objs if o["kind"] == "Secret" and o["type"] == "kubernetes.io/tls")
    assert base64.b64decode(tls["data"]["tls.crt"]) == rendered.cert.read_bytes()
    ingress = _one(objs, "Ingress")
    assert ingress["spec"]["tls"][0]["hosts"] == [f"sftd.{DOMAIN}"]
    if rendered.variant == "options":
        # Federated calls: SFT to SFT through the first TURN server, with restund's secret.
        assert "-t turn:203.0.113.61:3478?transport=udp" in script and "-s /secrets/zrest_secret.txt" in script
        assert _one(objs, "Secret", "sftd-secret")["data"]["zrest_secret.txt"]
    else:
        assert "MULTI_SFT_ARGS=\"-t" not in script


def test_ingress_controller_is_a_daemonset_behind_the_fixed_node_ports(rendered):
    objs = rendered.objs["ingress-nginx-controller"]
    # Named as Wire's own install names them (release ingress-nginx-controller, upstream's "-controller" suffix).
    _one(objs, "DaemonSet", "ingress-nginx-controller-controller")
    svc = _one(objs, "Service", "ingress-nginx-controller-controller")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["externalTrafficPolicy"] == "Local"
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == {"http": 31772, "https": 31773}
    assert not [o for o in objs if o["kind"] == "ValidatingWebhookConfiguration"]
    assert _one(objs, "IngressClass")["metadata"]["name"] == "nginx"


def test_redis_answers_on_the_host_gundeck_reads(rendered, wire_release):
    with tarfile.open(wire_release.packages["wire-server"]) as tar:
        chart_values = yaml.safe_load(tar.extractfile("wire-server/values.yaml").read())
    gundeck_redis = chart_values["gundeck"]["config"]["redis"]
    svc = _one(rendered.objs["redis-ephemeral"], "Service", gundeck_redis["host"])
    assert gundeck_redis["port"] in [p["port"] for p in svc["spec"]["ports"]]
    # Not HA (the chart's haMode is off): one Deployment, in memory only.
    dep = _one(rendered.objs["redis-ephemeral"], "Deployment", gundeck_redis["host"])
    resources = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == data()["redis"]["resources"]


def test_fake_aws_is_the_in_cluster_queue_of_websocket_push_and_never_the_asset_store(rendered):
    objs = rendered.objs["fake-aws"]
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
    assert {"fake-aws-sns", "fake-aws-sqs"} <= names and "fake-aws-s3" not in names
