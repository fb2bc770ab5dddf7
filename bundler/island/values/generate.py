"""From checked options and the inventory's hosts to the values of each Helm release, and their secrets.

Public values and secrets are kept apart: `values` holds what may sit in a repository, `secrets` holds per
release what goes only into the vault file. Each key is placed where Wire's charts read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bundler.island.values.defaults import data
from bundler.island.values.inventory import Inventory
from bundler.island.values.options import Options, has_credentials
from bundler.island.values.tls import Certificate


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


def _postgresql() -> dict[str, Any]:
    pg = data()["postgresql"]
    # A string: the chart writes it into a libpq connection string.
    return {"host": data()["services"]["postgresql"], "port": str(pg["port"]), "user": pg["user"],
            "dbname": pg["dbname"]}


def _rabbitmq() -> dict[str, Any]:
    mq = data()["rabbitmq"]
    return {"host": data()["services"]["rabbitmq"], "port": mq["port"], "vHost": mq["vhost"]}


def _proxy_config_file() -> str:
    """The proxy service's secrets file (HOCON): one key per provider, empty on an island."""
    lines = "".join(f'  {name} = ""\n' for name in data()["proxy_providers"])
    return "secrets {\n" + lines + "}\n"


def wire_server(opts: Options, inv: Inventory, gen: dict[str, str], cert: Certificate) -> Release:
    """wire-server 5.x: brig, galley, gundeck, cannon, cargohold, spar, background-worker and proxy are templates
    of the one chart (keys as its values.yaml names them); nginz, federator and the two migration jobs are its
    subcharts."""
    u = urls(opts)
    svc = data()["services"]
    port = data()["turn"]["port"]
    turn = _turn_addresses(inv)
    cassandra = {"host": svc["cassandra"]}
    rabbitmq = _rabbitmq()
    postgresql = _postgresql()
    fed = opts.federation
    brig_opt: dict[str, Any] = {
        "setFederationDomain": opts.federation_domain,
        # allowDynamic: only the backends an operator adds through brig's federation API are trusted.
        "setFederationStrategy": "allowDynamic" if fed else "allowNone",
        "setMaxTeamSize": opts.max_team_size,
        "setMaxConvSize": opts.max_conv_size,
    }
    if opts.sft_enabled:
        brig_opt["setSftStaticUrl"] = f"{u['sftd']}:443"
    smtp: dict[str, Any] = {"host": opts.smtp.host, "port": opts.smtp.port, "connType": opts.smtp.conn_type}
    if opts.smtp.username:
        smtp["username"] = opts.smtp.username
    push_aws = opts.push_aws if opts.push != "websocket" else dict(data()["push"]["fake_aws"])
    fake = data()["push"]["fake_aws"]
    account = u["account"]
    v: dict[str, Any] = {
        "tags": {
            "federation": fed,
            "legalhold": False,
        },
        "cassandra-migrations": {"cassandra": {"host": svc["cassandra"],
                                               "replicationFactor": min(3, len(inv.group("cassandra")))}},
        "elasticsearch-index": {
            "elasticsearch": {"host": svc["elasticsearch"]},
            "cassandra": {"host": svc["cassandra"]},
            "postgresql": postgresql,
        },
        "brig": {
            "config": {
                "cassandra": cassandra,
                "elasticsearch": {"host": svc["elasticsearch"]},
                "rabbitmq": rabbitmq,
                "postgresql": postgresql,
                "enableFederation": fed,
                "useSES": False,
                # Brig's internal event queue: fake SQS in the cluster; prekeys are random, so no DynamoDB.
                "randomPrekeys": True,
                "aws": {"region": fake["region"], "sqsEndpoint": fake["sqsEndpoint"],
                        "internalQueue": data()["brig_internal_queue"], "prekeyTable": "unused-random-prekeys"},
                "externalUrls": {
                    "nginz": u["nginz_https"],
                    "teamSettings": u["teams"],
                    "teamCreatorWelcome": f"{u['teams']}/login",
                    "teamMemberWelcome": u["webapp"],
                    "accountPages": account,
                },
                "optSettings": brig_opt,
                "smtp": smtp,
                "emailSMS": {
                    "general": {"emailSender": opts.smtp.sender},
                    "user": {
                        "activationUrl": f"{account}/verify/?key=${{key}}&code=${{code}}",
                        "smsActivationUrl": f"{account}/v/${{code}}",
                        "passwordResetUrl": f"{account}/reset/?key=${{key}}&code=${{code}}",
                        "invitationUrl": f"{account}/i/${{code}}",
                        "deletionUrl": f"{account}/d/?key=${{key}}&code=${{code}}",
                    },
                },
            },
            "turnStatic": {
                "v1": [f"turn:{a}:{port}" for a in turn],
                "v2": [x for a in turn for x in (f"turn:{a}:{port}", f"turn:{a}:{port}?transport=tcp")],
            },
        },
        "galley": {
            "config": {
                "cassandra": cassandra,
                "rabbitmq": rabbitmq,
                "postgresql": postgresql,
                "enableFederation": fed,
                "settings": {
                    "federationDomain": opts.federation_domain,
                    "maxTeamSize": opts.max_team_size,
                    "maxConvSize": opts.max_conv_size,
                    "conversationCodeURI": f"{account}/conversation-join/",
                },
            },
        },
        "gundeck": {"config": {"cassandra": cassandra, "rabbitmq": rabbitmq, "aws": push_aws,
                               "redis": {"host": svc["redis"]}}},
        "cannon": {
            "replicaCount": opts.cannon_replicas,
            "config": {
                "cassandra": cassandra,
                "rabbitmq": rabbitmq,
                "drainOpts": {
                    "gracePeriodSeconds": opts.drain.grace_period_seconds,
                    "millisecondsBetweenBatches": opts.drain.milliseconds_between_batches,
                    "minBatchSize": opts.drain.min_batch_size,
                },
            },
        },
        "cargohold": {
            "config": {
                "enableFederation": fed,
                "settings": {"federationDomain": opts.federation_domain},
                "aws": {
                    "s3Bucket": opts.s3_bucket,
                    "s3Endpoint": opts.s3_endpoint,
                    "s3DownloadEndpoint": u["assets"] if opts.s3_backend == "minio" else opts.s3_endpoint,
                    "s3AddressingStyle": opts.s3_style,
                },
            },
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
        "background-worker": {
            "config": {
                "federationDomain": opts.federation_domain,
                "enableFederation": fed,
                "rabbitmq": rabbitmq,
                "cassandra": cassandra,
                "cassandraGalley": cassandra,
                "cassandraBrig": cassandra,
                "postgresql": postgresql,
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
    }
    # webapp, team-settings, account-pages and sftd are releases of their own (bundler/island/values/frontends.py).
    if fed:
        # The federator presents the ingress's (wildcard) certificate to remote backends and trusts their CAs.
        v["federator"] = {"tls": {"useSharedFederatorSecret": True},
                          "remoteCAContents": opts.federation_ca}
    if opts.websocket_lb:
        v["cannon"]["service"] = {"nginz": {
            "enabled": True, "hostname": opts.websocket_lb_hostname,
            # The chart writes these after annotations of its own: an empty map would render as `{}` inside that
            # mapping, which is not YAML; one annotation of ours keeps it valid.
            "annotations": {"wire-bundle/role": "websocket-load-balancer", **opts.websocket_lb_annotations},
        }}
    # Only the password is secret. The user name stays in the values file: a tool that masks every secret value
    # wherever it appears (Ansible's no_log) would otherwise mask "wire-server" in chart and release names too.
    for svc in ("brig", "galley", "gundeck", "cannon", "background-worker"):
        v[svc]["secrets"] = {"rabbitmq": {"username": data()["rabbitmq"]["user"]}}
    mq = {"password": gen["rabbitmq_password"]}
    s: dict[str, Any] = {
        "brig": {"secrets": {
            "zAuth": {"privateKeys": gen["zauth_private_key"], "publicKeys": gen["zauth_public_key"]},
            "turn": {"secret": gen["turn_secret"]},
            "rabbitmq": dict(mq),
            "pgPassword": gen["postgresql_password"],
            # The chart always writes the password file; brig reads it only with a username (smtpCredentials).
            "smtpPassword": opts.smtp.password or "",
        }},
        "galley": {"secrets": {"rabbitmq": dict(mq), "pgPassword": gen["postgresql_password"]}},
        "gundeck": {"secrets": {"rabbitmq": dict(mq)}},
        "cannon": {"secrets": {"rabbitmq": dict(mq)}},
        "background-worker": {"secrets": {"rabbitmq": dict(mq), "pgPassword": gen["postgresql_password"]}},
        "proxy": {"secrets": {"proxy_config": _proxy_config_file()}},
        "nginz": {"secrets": {"zAuth": {"publicKeys": gen["zauth_public_key"]},
                              "basicAuth": gen["nginz_basic_auth"]}},
        "cargohold": {"secrets": {
            "awsKeyId": gen["minio_access_key"] if opts.s3_backend == "minio" else opts.s3_aws_key_id,
            "awsSecretKey": gen["minio_secret_key"] if opts.s3_backend == "minio" else opts.s3_aws_secret_key,
        }},
    }
    if opts.push != "websocket":
        s["gundeck"]["secrets"].update(awsKeyId=opts.push_aws_key_id, awsSecretKey=opts.push_aws_secret_key)
    if opts.websocket_lb:
        s["cannon"]["secrets"]["nginz"] = {
            "zAuth": {"publicKeys": gen["zauth_public_key"]},
            "tls": {"crt": cert.cert_pem, "key": cert.key_pem},
        }
    # A proxy URL with a password is a secret: then the URLs go to the secrets file and the no-proxy list stays in
    # the values (Helm merges both into config.proxy; the list's names must not become secret values).
    secret_urls = has_credentials(opts.http_proxy) or has_credentials(opts.https_proxy)
    for name in opts.proxy_services:
        cfg = proxy_config(opts, name)
        if cfg is None:
            continue
        urls_part = {k: cfg.pop(k) for k in ("httpProxy", "httpsProxy") if k in cfg}
        v.setdefault(name, {}).setdefault("config", {})["proxy"] = cfg if secret_urls else {**urls_part, **cfg}
        if secret_urls:
            s.setdefault(name, {}).setdefault("config", {})["proxy"] = urls_part
    return Release("wire-server", "wire-server", v, s)


def external(name: str, addresses: list[str]) -> Release:
    return Release(name, name, {"IPs": list(addresses)})


def postgresql_external(inv: Inventory) -> Release:
    """Services postgresql-external-rw (the primary) and -ro (the standbys), each with the hosts' IPs."""
    rw, ro = inv.postgresql()
    return Release("postgresql-external", "postgresql-external",
                   {"portPostgresql": data()["postgresql"]["port"], "RWIPs": rw, "ROIPs": ro})


def fake_aws(opts: Options) -> Release:
    ws = opts.push == "websocket"
    queue = data()["push"]["fake_aws"]["queueName"]
    return Release("fake-aws", "fake-aws", {
        "fake-aws-sns": {"enabled": ws},
        # Brig's internal queue lives here in every push mode; gundeck's only without real SNS/SQS.
        "fake-aws-sqs": {"enabled": True,
                         "queueNames": [data()["brig_internal_queue"], *([queue] if ws else [])]},
        # Assets live in MinIO (or AWS S3), never in the in-cluster stand-in.
        "fake-aws-s3": {"enabled": False},
        "fake-aws-ses": {"enabled": False},
    })


def ingress_services(opts: Options, cert: Certificate) -> Release:
    d = opts.dns
    dns = {"https": d["nginz_https"], "ssl": d["nginz_ssl"], "webapp": d["webapp"], "fakeS3": d["assets"],
           "teamSettings": d["teams"], "accountPages": d["account"]}
    secrets = {"tlsWildcardCert": cert.cert_pem, "tlsWildcardKey": cert.key_pem}
    if opts.federation:
        dns["federator"] = d["federator"]
        # The CA(s) whose client certificates the federator ingress accepts: the remote backends'.
        secrets["tlsClientCA"] = opts.federation_ca
    return Release("nginx-ingress-services", "nginx-ingress-services", {
        "teamSettings": {"enabled": opts.team_settings},
        "accountPages": {"enabled": opts.account_pages},
        # With its own load balancer, cannon's websockets bypass the ingress (and its restarts).
        "websockets": {"enabled": not opts.websocket_lb},
        "webapp": {"enabled": True},
        "fakeS3": {"enabled": opts.s3_backend == "minio"},
        "federator": {"enabled": opts.federation},
        "tls": {"enabled": True, "useCertManager": False},
        "service": {"s3": {"serviceName": data()["services"]["minio"], "externalPort": 9000}},
        "config": {"dns": dns},
    }, {"secrets": secrets})


def releases(opts: Options, inv: Inventory, gen: dict[str, str], cert: Certificate) -> list[Release]:
    """Every release, in install order (data file), skipping those whose feature is off."""
    from bundler.island.values import frontends  # it builds on Release and urls from here

    built = {
        "cassandra-external": lambda: external("cassandra-external", inv.addresses("cassandra")),
        "elasticsearch-external": lambda: external("elasticsearch-external", inv.addresses("elasticsearch")),
        "minio-external": lambda: external("minio-external", inv.addresses("minio")),
        "rabbitmq-external": lambda: external("rabbitmq-external", inv.addresses("rabbitmq")),
        "postgresql-external": lambda: postgresql_external(inv),
        "fake-aws": lambda: fake_aws(opts),
        "ingress-nginx-controller": lambda: frontends.ingress_controller(opts),
        "nginx-ingress-services": lambda: ingress_services(opts, cert),
        "wire-server": lambda: wire_server(opts, inv, gen, cert),
        "redis-ephemeral": frontends.redis_ephemeral,
        "webapp": lambda: frontends.webapp(opts),
        "team-settings": lambda: frontends.team_settings(opts),
        "account-pages": lambda: frontends.account_pages(opts),
        "sftd": lambda: frontends.sftd(opts, inv, gen, cert),
    }
    enabled = {"minio": opts.s3_backend == "minio", "sft": opts.sft_enabled,
               "team_settings": opts.team_settings, "account_pages": opts.account_pages}
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
    the accounts wire-server uses on RabbitMQ and PostgreSQL)."""
    return {
        "minio_access_key": gen["minio_access_key"],
        "minio_secret_key": gen["minio_secret_key"],
        "restund_zrest_secret": gen["turn_secret"],
        "rabbitmq_erlang_cookie": gen["rabbitmq_erlang_cookie"],
        "rabbitmq_password": gen["rabbitmq_password"],
        "postgresql_wire_user": data()["postgresql"]["user"],
        "postgresql_wire_password": gen["postgresql_password"],
    }
