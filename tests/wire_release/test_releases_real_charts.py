"""Every release of releases.yaml, as `wire-bundle values` writes it for the production example inventory (as
shipped, and with federation, http(s) proxies and the separate websocket load balancer on), rendered by real helm
from Wire's real 5.29.0 packages (the `wire_release` fixture), in install order, with the objects checked for the
settings they must carry.

Charts build.json names that cannot be had here (the fixture's `unavailable`) are named with the reason, never
skipped silently. The values and their rendering are tests/support/release_values.py's.
"""

from __future__ import annotations

import base64
import warnings

import pytest
import yaml

from bundler.island.values.defaults import data
from tests.support.archive import tgz_member
from tests.support.release_values import (
    DOMAIN,
    OPTIONS,
    REPO,
    Rendered,
    container_env,
    one,
    render_releases,
)


@pytest.fixture(scope="module", params=["as-shipped", "options"])
def rendered(request, wire_release, tmp_path_factory) -> Rendered:
    options = OPTIONS if request.param == "options" else {}
    r = render_releases(tmp_path_factory.mktemp(f"releases-{request.param}"), wire_release, options)
    r.variant = request.param
    return r


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
        assert name not in r.failed, f"{name}: {r.failed[name]}"
        assert r.objs[name], f"{name} rendered no objects"


def test_web_apps_talk_to_this_installation(rendered):
    objs = rendered.objs
    web = container_env(one(objs["webapp"], "Deployment", "webapp"), "webapp")
    assert web["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"
    assert web["BACKEND_WS"] == f"wss://nginz-ssl.{DOMAIN}"
    assert web["APP_BASE"] == f"https://webapp.{DOMAIN}"
    assert web["URL_TEAMS_BASE"] == f"https://teams.{DOMAIN}" and web["URL_ACCOUNT_BASE"] == f"https://account.{DOMAIN}"
    assert web["CSP_EXTRA_CONNECT_SRC"] == f"https://*.{DOMAIN}, wss://*.{DOMAIN}"
    assert one(objs["webapp"], "Deployment")["spec"]["replicas"] == 3

    teams = container_env(one(objs["team-settings"], "Deployment", "team-settings"), "team-settings")
    assert teams["APP_BASE"] == f"https://teams.{DOMAIN}/" and teams["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"
    assert teams["IS_SELF_HOSTED"] == "true" and teams["URL_WEBAPP_BASE"] == f"https://webapp.{DOMAIN}"
    # The chart's image pull secret: an empty docker config (the island's registry mirror needs no credentials).
    pull = one(objs["team-settings"], "Secret", "wire-teamsettings-readonly-pull-secret")
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    assert base64.b64decode(pull["data"][".dockerconfigjson"]) == b"{}\n"

    account = container_env(one(objs["account-pages"], "Deployment", "account-pages"), "account-pages")
    assert account["APP_BASE"] == f"https://account.{DOMAIN}"
    assert account["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"


def test_sftd_runs_on_the_host_network_of_the_sft_nodes_with_the_wildcard_certificate(rendered):
    objs = rendered.objs["sftd"]
    sts = one(objs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["nodeSelector"] == {"wire.com/role": "sftd"}
    hosts = yaml.safe_load((REPO / "inventory/examples/production/hosts.yml").read_text())
    assert sts["spec"]["replicas"] == len(hosts["all"]["children"]["sft"]["hosts"])
    script = next(c for c in spec["containers"] if c["name"] == "sftd")["command"][-1]
    assert f'-u "https://sftd.{DOMAIN}/sfts/${{POD_NAME}}"' in script
    tls = next(o for o in objs if o["kind"] == "Secret" and o["type"] == "kubernetes.io/tls")
    assert base64.b64decode(tls["data"]["tls.crt"]) == rendered.cert.read_bytes()
    ingress = one(objs, "Ingress")
    assert ingress["spec"]["tls"][0]["hosts"] == [f"sftd.{DOMAIN}"]
    if rendered.variant == "options":
        # Federated calls: SFT to SFT through the first TURN server, with restund's secret.
        assert "-t turn:203.0.113.61:3478?transport=udp" in script and "-s /secrets/zrest_secret.txt" in script
        assert one(objs, "Secret", "sftd-secret")["data"]["zrest_secret.txt"]
    else:
        assert "MULTI_SFT_ARGS=\"-t" not in script


def test_ingress_controller_is_a_daemonset_behind_the_fixed_node_ports(rendered):
    objs = rendered.objs["ingress-nginx-controller"]
    # Named as Wire's own install names them (release ingress-nginx-controller, upstream's "-controller" suffix).
    one(objs, "DaemonSet", "ingress-nginx-controller-controller")
    svc = one(objs, "Service", "ingress-nginx-controller-controller")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["externalTrafficPolicy"] == "Local"
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == {"http": 31772, "https": 31773}
    assert not [o for o in objs if o["kind"] == "ValidatingWebhookConfiguration"]
    assert one(objs, "IngressClass")["metadata"]["name"] == "nginx"


def test_redis_answers_on_the_host_gundeck_reads(rendered, wire_release):
    chart_values = yaml.safe_load(tgz_member(wire_release.packages["wire-server"], "wire-server/values.yaml"))
    gundeck_redis = chart_values["gundeck"]["config"]["redis"]
    svc = one(rendered.objs["redis-ephemeral"], "Service", gundeck_redis["host"])
    assert gundeck_redis["port"] in [p["port"] for p in svc["spec"]["ports"]]
    # Not HA (the chart's haMode is off): one Deployment, in memory only.
    dep = one(rendered.objs["redis-ephemeral"], "Deployment", gundeck_redis["host"])
    resources = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == data()["redis"]["resources"]


def test_fake_aws_is_the_in_cluster_queue_of_websocket_push_and_never_the_asset_store(rendered):
    objs = rendered.objs["fake-aws"]
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
    assert {"fake-aws-sns", "fake-aws-sqs"} <= names and "fake-aws-s3" not in names
