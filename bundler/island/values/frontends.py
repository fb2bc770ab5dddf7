"""Values of the releases around wire-server: the web apps, redis, the ingress controller and sftd.

Since Wire 5.x the web apps are charts of their own (values for them inside wire-server.yaml reach nothing), and
so are sftd and the ingress controller. Every URL is made from the installation's DNS names; image tags are left
to each chart, so the bundle's locked chart decides what runs. Wire's fixed choices sit in the data file.
"""

from __future__ import annotations

from typing import Any

from bundler.island.values.defaults import data
from bundler.island.values.generate import Release, urls
from bundler.island.values.inventory import Inventory
from bundler.island.values.options import Options
from bundler.island.values.tls import Certificate


def csp_sources(opts: Options) -> dict[str, str]:
    """CSP_EXTRA_* for the web apps: a wildcard for the parent domain of every public name (the apps call the
    API, the websocket and the asset store on sibling names), wss:// too where connections go."""
    parents = sorted({name.split(".", 1)[1] for name in opts.dns.values()})
    https = ", ".join(f"https://*.{p}" for p in parents)
    connect = ", ".join([https] + [f"wss://*.{p}" for p in parents])
    return {f"CSP_EXTRA_{kind}_SRC": connect if kind == "CONNECT" else https
            for kind in data()["webapps"]["csp_kinds"]}


def _backend(opts: Options) -> dict[str, str]:
    return {"backendRest": opts.dns["nginz_https"], "backendWebsocket": opts.dns["nginz_ssl"],
            "backendDomain": opts.federation_domain}


def webapp(opts: Options) -> Release:
    facts, u = data()["webapps"]["webapp"], urls(opts)
    env: dict[str, Any] = {**facts["env"], **csp_sources(opts)}
    external = {**_backend(opts), "appHost": opts.dns["webapp"]}
    if opts.account_pages:
        env["URL_ACCOUNT_BASE"] = u["account"]
    if opts.team_settings:
        env["URL_TEAMS_BASE"] = env["URL_TEAMS_CREATE"] = u["teams"]
        external["backendTeamSettings"] = opts.dns["teams"]
    return Release("webapp", "webapp", {
        "replicaCount": facts["replicas"], "config": {"externalUrls": external}, "envVars": env})


def team_settings(opts: Options) -> Release:
    facts, u = data()["webapps"]["team-settings"], urls(opts)
    env: dict[str, Any] = {**facts["env"], **csp_sources(opts), "URL_WEBAPP_BASE": u["webapp"],
                           "IS_SELF_HOSTED": "true" if opts.self_hosted else "false"}
    if opts.account_pages:
        env["URL_ACCOUNT_BASE"] = u["account"]
    return Release("team-settings", "team-settings", {
        "replicaCount": facts["replicas"],
        "config": {"externalUrls": {**_backend(opts), "appHost": opts.dns["teams"]}},
        "envVars": env,
        # No credential in it (an empty docker config), so it stays in the public values.
        "secrets": {"configJson": facts["pull_secret_config_json"]},
    })


def account_pages(opts: Options) -> Release:
    facts, u = data()["webapps"]["account-pages"], urls(opts)
    env: dict[str, Any] = {**facts["env"], **csp_sources(opts), "URL_WEBAPP_BASE": u["webapp"],
                           "IS_SELF_HOSTED": "true" if opts.self_hosted else "false"}
    if opts.team_settings:
        env["URL_TEAMS_BASE"] = u["teams"]
    external = {k: v for k, v in _backend(opts).items() if k != "backendWebsocket"}
    return Release("account-pages", "account-pages", {
        "replicaCount": facts["replicas"],
        "config": {"externalUrls": {**external, "appHost": opts.dns["account"]}},
        "envVars": env,
    })


def redis_ephemeral() -> Release:
    # The chart wraps groundhog2k's redis under the alias redis-ephemeral: the release name gives the Service
    # the name gundeck's default configuration reads (redis-ephemeral).
    return Release("redis-ephemeral", "redis-ephemeral",
                   {"redis-ephemeral": {"resources": dict(data()["redis"]["resources"])}})


def ingress_controller(opts: Options) -> Release:
    # Wire's chart wraps the upstream ingress-nginx chart: its values go under `ingress-nginx`. A DaemonSet with
    # fixed node ports is what the load balancer (or DNS round robin) in front of the nodes points at.
    return Release("ingress-nginx-controller", "ingress-nginx-controller", {"ingress-nginx": {"controller": {
        "kind": "DaemonSet",
        "image": dict(data()["chart_images"]["ingress_controller"]),
        "service": {"type": "NodePort", "externalTrafficPolicy": "Local",
                    "nodePorts": dict(opts.ingress_node_ports)},
        # The certgen Job's webhook would need its own image and CA round trip at every install; the Ingresses
        # come only from Wire's charts.
        "admissionWebhooks": {"enabled": False},
    }}})


def _turn_uri(inv: Inventory) -> str:
    host = inv.group("restund")[0]
    return f"turn:{host.external_ip or host.address}:{data()['turn']['port']}?transport=udp"


def sftd(opts: Options, inv: Inventory, gen: dict[str, str], cert: Certificate) -> Release:
    values: dict[str, Any] = {
        "host": opts.dns["sftd"],
        "allowOrigin": urls(opts)["webapp"],
        # One SFT per node (hostNetwork): as many replicas as labelled nodes.
        "replicaCount": len(inv.group("sft")),
        "nodeSelector": dict(data()["sft"]["node_label"]),
        "joinCall": {"replicaCount": opts.sft_join_call_replicas,
                     "image": dict(data()["chart_images"]["sftd_join_call"])},
        "turnDiscoveryEnabled": opts.sft_turn_discovery,
    }
    secrets: dict[str, Any] = {"tls": {"crt": cert.cert_pem, "key": cert.key_pem}}
    if opts.federation:
        # Federated calls join SFTs of other backends through TURN, authenticated with restund's zrest secret.
        values["multiSFT"] = {"enabled": True, "discoveryRequired": False, "turnServerURI": _turn_uri(inv)}
        secrets["multiSFT"] = {"secret": gen["turn_secret"]}
    return Release("sftd", "sftd", values, secrets)
