"""From checked options and the inventory's hosts to the values of each Helm release, and their secrets.

Public values and secrets are kept apart: `values` holds what may sit in a repository, `secrets` holds per
release what goes only into the vault file. Each key is placed where Wire's charts read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bundler.values.defaults import data
from bundler.values.inventory import Inventory
from bundler.values.options import Options, has_credentials
from bundler.values.tls import Certificate


@dataclass
class Release:
    name: str
    chart: str
    values: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)


def urls(opts: Options) -> dict[str, str]:
    return {k: f"https://{v}" for k, v in opts.dns.items()}


def no_proxy(opts: Options, service: str) -> list[str]:
    """Cluster-internal names, cannon's per-pod names, the installation's own names, then the operator's."""
    names = list(data()["no_proxy"])
    names += [f"cannon-{i}.cannon.{opts.namespace}" for i in range(opts.cannon_replicas)]
    names += [f".{opts.domain}"]
    names += opts.no_proxy_extra + opts.no_proxy_per_service.get(service, [])
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return seen


def proxy_config(opts: Options, service: str) -> dict[str, Any] | None:
    if not (opts.http_proxy or opts.https_proxy) or service not in opts.proxy_services:
        return None
    cfg: dict[str, Any] = {}
    if opts.http_proxy:
        cfg["httpProxy"] = opts.http_proxy
    if opts.https_proxy:
        cfg["httpsProxy"] = opts.https_proxy
    cfg["noProxyList"] = no_proxy(opts, service)
    return cfg


def _turn_addresses(inv: Inventory) -> list[str]:
    return [h.external_ip or h.address for h in inv.group("restund")]


def wire_server(opts: Options, inv: Inventory, gen: dict[str, str], cert: Certificate) -> Release:
    u = urls(opts)
    port = data()["turn"]["port"]
    turn = _turn_addresses(inv)
    cassandra = {"host": "cassandra-external"}
    brig_opt: dict[str, Any] = {
        "setFederationDomain": opts.federation_domain,
        "setMaxTeamSize": opts.max_team_size,
        "setMaxConvSize": opts.max_conv_size,
    }
    if opts.sft_enabled:
        brig_opt["setSftStaticUrl"] = f"{u['sftd']}:443"
    smtp: dict[str, Any] = {"host": opts.smtp.host, "port": opts.smtp.port, "connType": opts.smtp.conn_type}
    if opts.smtp.username:
        smtp["username"] = opts.smtp.username
    push_aws = opts.push_aws if opts.push != "websocket" else dict(data()["push"]["fake_aws"])
    v: dict[str, Any] = {
        "tags": {
            "proxy": "proxy" in opts.extra_upstreams,
            "spar": True,
            "federation": opts.federation,
            "team-settings": opts.team_settings,
            "account-pages": opts.account_pages,
            "sftd": False,  # its own release: hostNetwork nodes are chosen by node selector
        },
        "brig": {
            "config": {
                "cassandra": cassandra,
                "elasticsearch": {"host": "elasticsearch-external"},
                "useSES": False,
                "externalUrls": {
                    "nginz": u["nginz_https"],
                    "teamSettings": u["teams"],
                    "teamCreatorWelcome": f"{u['teams']}/login",
                    "teamMemberWelcome": u["webapp"],
                    "accountPages": u["account"],
                },
                "optSettings": brig_opt,
                "smtp": smtp,
                "emailSMS": {"general": {"emailSender": opts.smtp.sender}},
            },
            "turnStatic": {
                "v1": [f"turn:{a}:{port}" for a in turn],
                "v2": [x for a in turn for x in (f"turn:{a}:{port}", f"turn:{a}:{port}?transport=tcp")],
            },
        },
        "galley": {
            "config": {
                "cassandra": cassandra,
                "settings": {
                    "federationDomain": opts.federation_domain,
                    "maxTeamSize": opts.max_team_size,
                    "maxConvSize": opts.max_conv_size,
                },
            },
        },
        "gundeck": {"config": {"cassandra": cassandra, "aws": push_aws}},
        "cannon": {
            "replicaCount": opts.cannon_replicas,
            "config": {"drainOpts": {
                "gracePeriodSeconds": opts.drain.grace_period_seconds,
                "millisecondsBetweenBatches": opts.drain.milliseconds_between_batches,
                "minBatchSize": opts.drain.min_batch_size,
            }},
        },
        "cargohold": {
            "config": {"aws": {
                "s3Bucket": opts.s3_bucket,
                "s3Endpoint": opts.s3_endpoint,
                "s3DownloadEndpoint": u["assets"] if opts.s3_backend == "minio" else opts.s3_endpoint,
                "s3AddressingStyle": opts.s3_style,
            }},
        },
        "spar": {
            "config": {
                "cassandra": cassandra,
                "domain": opts.federation_domain,
                "appUri": f"{u['nginz_https']}/",
                "ssoUri": f"{u['nginz_https']}/sso",
                "contacts": [{"type": "ContactSupport", "email": opts.smtp.sender}],
            },
        },
        "nginz": {
            "nginx_conf": {
                "external_env_domain": opts.domain,
                "ignored_upstreams": list(opts.ignored_upstreams),
                "enabled_extra_upstreams": list(opts.extra_upstreams),
                "deeplink": {"endpoints": {
                    "backendURL": u["nginz_https"], "backendWSURL": u["nginz_ssl"], "teamsURL": u["teams"],
                    "accountsURL": u["account"], "websiteURL": u["webapp"],
                }, "title": opts.domain},
            },
        },
        "webapp": {"config": {"externalUrls": {
            "backendRest": opts.dns["nginz_https"], "backendWebsocket": opts.dns["nginz_ssl"],
            "backendDomain": opts.federation_domain, "appHost": opts.dns["webapp"],
        }}},
    }
    for chart, host_key, enabled in (("team-settings", "teams", opts.team_settings),
                                     ("account-pages", "account", opts.account_pages)):
        if enabled:
            v[chart] = {
                # A string: the frontends read it from the environment.
                "envVars": {"IS_SELF_HOSTED": "true" if opts.self_hosted else "false"},
                "config": {"externalUrls": {
                    "backendRest": opts.dns["nginz_https"], "backendWebsocket": opts.dns["nginz_ssl"],
                    "backendDomain": opts.federation_domain, "appHost": opts.dns[host_key],
                }},
            }
    if opts.federation:
        v["federator"] = {"config": {"optSettings": {"federationStrategy": "allowDynamic"}}}
    if opts.websocket_lb:
        v["cannon"]["service"] = {"nginz": {
            "enabled": True, "hostname": opts.websocket_lb_hostname,
            "annotations": dict(opts.websocket_lb_annotations),
        }}
    s: dict[str, Any] = {
        "brig": {"secrets": {
            "zAuth": {"privateKeys": gen["zauth_private_key"], "publicKeys": gen["zauth_public_key"]},
            "turn": {"secret": gen["turn_secret"]},
        }},
        "nginz": {"secrets": {"zAuth": {"publicKeys": gen["zauth_public_key"]}}},
        "cargohold": {"secrets": {
            "awsKeyId": gen["minio_access_key"] if opts.s3_backend == "minio" else opts.s3_aws_key_id,
            "awsSecretKey": gen["minio_secret_key"] if opts.s3_backend == "minio" else opts.s3_aws_secret_key,
        }},
    }
    if opts.smtp.password:
        s["brig"]["secrets"]["smtpPassword"] = opts.smtp.password
    if opts.push != "websocket":
        s["gundeck"] = {"secrets": {"awsKeyId": opts.push_aws_key_id, "awsSecretKey": opts.push_aws_secret_key}}
    if opts.websocket_lb:
        s["cannon"] = {"secrets": {"nginz": {
            "zAuth": {"publicKeys": gen["zauth_public_key"]},
            "tls": {"crt": cert.cert_pem, "key": cert.key_pem},
        }}}
    # A proxy URL with a password is a secret: then the whole proxy block goes to the secrets file instead.
    proxy_target = s if has_credentials(opts.http_proxy) or has_credentials(opts.https_proxy) else v
    for svc in opts.proxy_services:
        cfg = proxy_config(opts, svc)
        if cfg is None:
            continue
        if svc == "proxy" and not v["tags"]["proxy"]:
            continue
        if svc == "federator" and not opts.federation:
            continue
        proxy_target.setdefault(svc, {}).setdefault("config", {})["proxy"] = cfg
    return Release("wire-server", "wire-server", v, s)


def external(name: str, addresses: list[str]) -> Release:
    return Release(name, name, {"IPs": list(addresses)})


def fake_aws(opts: Options) -> Release:
    ws = opts.push == "websocket"
    queue = data()["push"]["fake_aws"]["queueName"]
    return Release("fake-aws", "fake-aws", {
        "fake-aws-sns": {"enabled": ws},
        "fake-aws-sqs": {"enabled": ws, "queueNames": [queue] if ws else []},
        # Assets live in MinIO (or AWS S3), never in the in-cluster stand-in.
        "fake-aws-s3": {"enabled": False},
        "fake-aws-ses": {"enabled": False},
    })


def ingress_controller(opts: Options) -> Release:
    return Release("ingress-nginx-controller", "ingress-nginx", {"controller": {
        "kind": "DaemonSet",
        "service": {"type": "NodePort", "externalTrafficPolicy": "Local",
                    "nodePorts": dict(opts.ingress_node_ports)},
        "admissionWebhooks": {"enabled": False},
    }})


def ingress_services(opts: Options, cert: Certificate) -> Release:
    d = opts.dns
    return Release("nginx-ingress-services", "nginx-ingress-services", {
        "teamSettings": {"enabled": opts.team_settings},
        "accountPages": {"enabled": opts.account_pages},
        # With its own load balancer, cannon's websockets bypass the ingress (and its restarts).
        "websockets": {"enabled": not opts.websocket_lb},
        "webapp": {"enabled": True},
        "fakeS3": {"enabled": opts.s3_backend == "minio"},
        "federator": {"enabled": opts.federation},
        "tls": {"enabled": True, "useCertManager": False},
        "service": {"s3": {"serviceName": "minio-external", "externalPort": 9000}},
        "config": {"dns": {
            "https": d["nginz_https"], "ssl": d["nginz_ssl"], "webapp": d["webapp"], "fakeS3": d["assets"],
            "teamSettings": d["teams"], "accountPages": d["account"],
        }},
    }, {"secrets": {"tlsWildcardCert": cert.cert_pem, "tlsWildcardKey": cert.key_pem}})


def sftd(opts: Options, inv: Inventory, cert: Certificate) -> Release:
    return Release("sftd", "sftd", {
        "host": opts.dns["sftd"],
        "allowOrigin": urls(opts)["webapp"],
        # One SFT per node (hostNetwork): as many replicas as labelled nodes.
        "replicaCount": len(inv.group("sft")),
        "nodeSelector": dict(data()["sft"]["node_label"]),
        "joinCall": {"replicaCount": opts.sft_join_call_replicas},
        "turnDiscoveryEnabled": opts.sft_turn_discovery,
    }, {"tls": {"crt": cert.cert_pem, "key": cert.key_pem}})


def releases(opts: Options, inv: Inventory, gen: dict[str, str], cert: Certificate) -> list[Release]:
    """Every release, in install order (data file), skipping those whose feature is off."""
    built = {
        "cassandra-external": lambda: external("cassandra-external", inv.addresses("cassandra")),
        "elasticsearch-external": lambda: external("elasticsearch-external", inv.addresses("elasticsearch")),
        "minio-external": lambda: external("minio-external", inv.addresses("minio")),
        "fake-aws": lambda: fake_aws(opts),
        "ingress-nginx-controller": lambda: ingress_controller(opts),
        "nginx-ingress-services": lambda: ingress_services(opts, cert),
        "wire-server": lambda: wire_server(opts, inv, gen, cert),
        "sftd": lambda: sftd(opts, inv, cert),
    }
    enabled = {"minio": opts.s3_backend == "minio", "sft": opts.sft_enabled}
    out = []
    for entry in data()["releases"]:
        if entry.get("when") and not enabled[entry["when"]]:
            continue
        rel = built[entry["name"]]()
        rel.chart = entry["chart"]
        out.append(rel)
    return out


def ansible_secrets(gen: dict[str, str]) -> dict[str, str]:
    """The generated secrets the VM roles need too (MinIO's keys, restund's zrest secret, RabbitMQ's cookie and
    password)."""
    return {
        "minio_access_key": gen["minio_access_key"],
        "minio_secret_key": gen["minio_secret_key"],
        "restund_zrest_secret": gen["turn_secret"],
        "rabbitmq_erlang_cookie": gen["rabbitmq_erlang_cookie"],
        "rabbitmq_password": gen["rabbitmq_password"],
    }
