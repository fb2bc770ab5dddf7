"""The operator's choices, checked: every `wire_*` setting with its default applied and its value validated.

Each check fails with a ValuesError whose message starts with the key at fault (`wire_cannon_drain.min_batch_size:
...`), so the operator knows which line of the inventory to change. Cross-checks against the inventory's groups
(an enabled feature without its hosts, an SFT node that is also a TURN server) live here too.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bundler.island.values import tls
from bundler.island.values.defaults import data, defaults, known_settings
from bundler.island.values.errors import ValuesError
from bundler.island.values.inventory import Inventory

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Drain:
    grace_period_seconds: int
    milliseconds_between_batches: int
    min_batch_size: int


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    conn_type: str
    username: str | None
    sender: str
    password: str | None


@dataclass(frozen=True)
class Options:
    domain: str
    federation_domain: str
    namespace: str
    dns: dict[str, str]  # name key -> full host name
    http_proxy: str | None
    https_proxy: str | None
    proxy_services: list[str]
    no_proxy_extra: list[str]
    no_proxy_per_service: dict[str, list[str]]
    push: str
    push_aws: dict[str, str]  # chart keys (queueName, ...) for wire/aws modes
    push_aws_key_id: str | None
    push_aws_secret_key: str | None
    cannon_replicas: int
    drain: Drain
    ignored_upstreams: list[str]
    extra_upstreams: list[str]
    websocket_lb: bool
    websocket_lb_hostname: str
    websocket_lb_annotations: dict[str, str]
    smtp: Smtp
    s3_backend: str
    s3_style: str
    s3_bucket: str
    s3_endpoint: str
    s3_aws_key_id: str | None
    s3_aws_secret_key: str | None
    self_hosted: bool
    max_team_size: int
    max_conv_size: int
    tls_cert_file: Path
    tls_key_file: Path
    sft_enabled: bool
    sft_join_call_replicas: int
    sft_turn_discovery: bool
    team_settings: bool
    account_pages: bool
    federation: bool
    federation_ca: str | None  # PEM, checked
    ingress_node_ports: dict[str, int]


def merged_settings(inv: Inventory, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults, then the inventory, then --settings; dict-valued settings merge key by key."""
    merged = copy.deepcopy(defaults())
    for layer in (inv.settings, overrides or {}):
        for key, value in layer.items():
            if isinstance(merged.get(key), dict) and isinstance(value, dict) and key != "wire_no_proxy_per_service":
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    unknown = sorted(set(merged) - known_settings())
    island = data()
    merged = {k: v for k, v in merged.items() if k not in island["island_settings"]
              and not k.startswith(tuple(island["island_setting_prefixes"]))}
    unknown = [k for k in unknown if k in merged]
    if unknown:
        raise ValuesError(f"{unknown[0]}: unknown setting (known: see docs/values.md); a typo?")
    return merged


def load_settings_file(path: Path) -> dict[str, Any]:
    import yaml

    from bundler.bundle.yamlsrc import MAX_YAML_BYTES, check_yaml, read_bounded

    text = read_bounded(path, f"settings file {path}", MAX_YAML_BYTES, ValuesError)
    check_yaml(text, f"settings file {path}", ValuesError)  # bounded: size, nesting, aliases
    loaded = yaml.safe_load(text)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValuesError(f"settings file {path}: must be a mapping of wire_* settings")
    return loaded


# --- small typed readers; each names the key it reads -------------------------------------------------------

def _str(s: dict, key: str, *, required: bool = False) -> str | None:
    value = _dig(s, key)
    if value is None or value == "":
        if required:
            raise ValuesError(f"{key}: required")
        return None
    if not isinstance(value, str):
        raise ValuesError(f"{key}: must be a string, not {type(value).__name__}")
    return value


def _int(s: dict, key: str, low: int, high: int | None = None) -> int:
    value = _dig(s, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValuesError(f"{key}: must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValuesError(f"{key}: {value} is out of range; must be {bound}")
    return value


def _bool(s: dict, key: str) -> bool:
    value = _dig(s, key)
    if not isinstance(value, bool):
        raise ValuesError(f"{key}: must be true or false, not {value!r}")
    return value


def _list(s: dict, key: str) -> list[str]:
    value = _dig(s, key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValuesError(f"{key}: must be a list of non-empty strings")
    return list(value)


def _choice(s: dict, key: str, choices: list[str]) -> str:
    value = _dig(s, key)
    if value not in choices:
        raise ValuesError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _dig(s: dict, key: str) -> Any:
    top, _, sub = key.partition(".")
    value = s.get(top)
    if sub:
        if value is not None and not isinstance(value, dict):
            raise ValuesError(f"{top}: must be a mapping")
        value = (value or {}).get(sub)
    return value


def _host_name(key: str, name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.match(lb) for lb in labels):
        raise ValuesError(f"{key}: {name!r} is not a DNS name with at least two labels")
    return ".".join(labels)


def _proxy_url(s: dict, key: str) -> str | None:
    value = _str(s, key)
    if value is None:
        return None
    parts = urlsplit(value)
    # A proxy URL may carry a password (http://user:pw@proxy:3128): never repeat it in a message.
    shown = repr(value) if parts.password is None else repr(value.replace(parts.password, "***"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValuesError(f"{key}: {shown} is not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - parsing is the check
    except ValueError:
        raise ValuesError(f"{key}: {shown} has an invalid port") from None
    return value


def has_credentials(url: str | None) -> bool:
    return bool(url) and urlsplit(url).password is not None


def _file(s: dict, key: str, base: Path) -> Path:
    value = _str(s, key, required=True)
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValuesError(f"{key}: {path} not found")
    return path


# --- the model --------------------------------------------------------------------------------------------------

def build(inv: Inventory, overrides: dict[str, Any] | None = None) -> Options:
    s = merged_settings(inv, overrides)
    facts = data()
    domain = _host_name("wire_domain", _str(s, "wire_domain", required=True))
    fed = _str(s, "wire_federation_domain")
    federation_domain = _host_name("wire_federation_domain", fed) if fed else domain

    namespace = _str(s, "wire_namespace", required=True)
    if not _DNS_LABEL.match(namespace):
        raise ValuesError(f"wire_namespace: {namespace!r} is not a valid Kubernetes namespace name")

    dns = {}
    for name, value in (_dig(s, "wire_dns") or {}).items():
        if name not in defaults()["wire_dns"]:
            raise ValuesError(f"wire_dns.{name}: unknown name; known: {', '.join(defaults()['wire_dns'])}")
        if not isinstance(value, str) or not value:
            raise ValuesError(f"wire_dns.{name}: must be a host name or a prefix")
        dns[name] = _host_name(f"wire_dns.{name}", value if "." in value else f"{value}.{domain}")
    dupes = {v for v in dns.values() if list(dns.values()).count(v) > 1}
    if dupes:
        raise ValuesError(f"wire_dns: {sorted(dupes)[0]} is used for two names; each needs its own")

    http_proxy = _proxy_url(s, "wire_http_proxy")
    https_proxy = _proxy_url(s, "wire_https_proxy")
    proxy_services = _list(s, "wire_proxy_services")
    known_services = facts["proxy_services"]
    for svc in proxy_services:
        if svc not in known_services:
            raise ValuesError(f"wire_proxy_services: {svc!r} is not a wire-server service that reads proxy "
                              f"settings ({', '.join(known_services)})")
    per_service = _dig(s, "wire_no_proxy_per_service") or {}
    if not isinstance(per_service, dict):
        raise ValuesError("wire_no_proxy_per_service: must be a mapping of service -> list of names")
    for svc in per_service:
        if svc not in proxy_services:
            raise ValuesError(f"wire_no_proxy_per_service.{svc}: {svc} is not in wire_proxy_services, "
                              "so it gets no proxy and no no-proxy list")
        _list(per_service, svc)
    for key, given in (("wire_no_proxy_extra", _list(s, "wire_no_proxy_extra")),
                       ("wire_no_proxy_per_service", per_service)):
        if given and not (http_proxy or https_proxy):
            raise ValuesError(f"{key}: a no-proxy list without wire_http_proxy or wire_https_proxy has no effect; "
                              "set a proxy or remove it")

    push = _choice(s, "wire_push", facts["push"]["modes"])
    push_aws: dict[str, str] = {}
    key_id = _str(s, "wire_push_aws_key_id")
    secret_key = _str(s, "wire_push_aws_secret_key")
    if push in ("wire", "aws"):
        for k in facts["push"]["aws_keys"]:
            push_aws[_camel(k)] = _str(s, f"wire_push_aws.{k}", required=True)
        for k in ("sns_endpoint", "sqs_endpoint"):
            if urlsplit(_dig(s, f"wire_push_aws.{k}")).scheme != "https":
                raise ValuesError(f"wire_push_aws.{k}: must be an https:// endpoint")
        if not push_aws["queueName"].startswith(push_aws["arnEnv"] + "-"):
            raise ValuesError(f"wire_push_aws.arn_env: {push_aws['arnEnv']!r} must be the environment name, the "
                              f"first part of queue_name {push_aws['queueName']!r}")
        if not key_id or not secret_key:
            missing = "wire_push_aws_key_id" if not key_id else "wire_push_aws_secret_key"
            raise ValuesError(f"{missing}: required for wire_push={push} (the AWS credentials for SNS/SQS)")
    elif _dig(s, "wire_push_aws") or key_id or secret_key:
        raise ValuesError("wire_push_aws: set, but wire_push is websocket (no mobile push); "
                          "choose wire_push: wire or aws, or remove the AWS settings")

    cannon_replicas = _int(s, "wire_cannon_replicas", 1, 64)
    max_grace = facts["limits"]["cannon_drain_max_grace_seconds"]
    drain = Drain(
        grace_period_seconds=_int(s, "wire_cannon_drain.grace_period_seconds", 1, max_grace),
        milliseconds_between_batches=_int(s, "wire_cannon_drain.milliseconds_between_batches", 1,
                                          max_grace * 1000),
        min_batch_size=_int(s, "wire_cannon_drain.min_batch_size", 1),
    )
    unknown_drain = set(_dig(s, "wire_cannon_drain")) - set(defaults()["wire_cannon_drain"])
    if unknown_drain:
        raise ValuesError(f"wire_cannon_drain.{sorted(unknown_drain)[0]}: unknown drain option")

    ignored = _list(s, "wire_nginz_ignored_upstreams")
    extras = _list(s, "wire_nginz_extra_upstreams")
    for name in ignored:
        if name not in facts["nginz"]["default_upstreams"]:
            hint = " (it is an extra upstream: it is off unless listed in wire_nginz_extra_upstreams)" \
                if name in facts["nginz"]["extra_upstreams"] else ""
            raise ValuesError(f"wire_nginz_ignored_upstreams: {name!r} is not a default upstream "
                              f"({', '.join(facts['nginz']['default_upstreams'])}){hint}")
    for name in extras:
        if name not in facts["nginz"]["extra_upstreams"]:
            raise ValuesError(f"wire_nginz_extra_upstreams: {name!r} is not an extra upstream "
                              f"({', '.join(facts['nginz']['extra_upstreams'])})")
    websocket_lb = _bool(s, "wire_websocket_lb.enabled")
    if websocket_lb and "cannon" not in ignored:
        # The websockets go to cannon's own load balancer; nginz must not also route them.
        ignored.append("cannon")
    if "cannon" in ignored and not websocket_lb:
        raise ValuesError("wire_nginz_ignored_upstreams: ignoring cannon leaves no route for websockets unless "
                          "wire_websocket_lb.enabled is true")
    ws_host = _str(s, "wire_websocket_lb.hostname")
    annotations = _dig(s, "wire_websocket_lb.annotations") or {}
    if not isinstance(annotations, dict):
        raise ValuesError("wire_websocket_lb.annotations: must be a mapping")

    smtp_host = _str(s, "wire_smtp.host", required=True)
    sender = _str(s, "wire_smtp.sender") or f"no-reply@{domain}"
    if "@" not in sender:
        raise ValuesError(f"wire_smtp.sender: {sender!r} is not an email address")
    smtp = Smtp(host=smtp_host, port=_int(s, "wire_smtp.port", 1, 65535),
                conn_type=_choice(s, "wire_smtp.conn_type", facts["smtp"]["conn_types"]),
                username=_str(s, "wire_smtp.username"), sender=sender,
                password=_str(s, "wire_smtp_password"))
    if smtp.username and not smtp.password:
        raise ValuesError("wire_smtp_password: required when wire_smtp.username is set (keep it in a vault)")

    backend = _choice(s, "wire_s3_backend", ["minio", "aws"])
    style = _str(s, "wire_s3_addressing_style") or ("path" if backend == "minio" else "auto")
    if style not in facts["s3"]["styles"]:
        raise ValuesError(f"wire_s3_addressing_style: {style!r} is not one of {', '.join(facts['s3']['styles'])}")
    if backend == "minio" and style != "path":
        raise ValuesError(f"wire_s3_addressing_style: {style!r} with wire_s3_backend minio; MinIO needs path-style "
                          "addressing (bucket in the path), set it to path")
    bucket = _str(s, "wire_s3_bucket", required=True)
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        raise ValuesError(f"wire_s3_bucket: {bucket!r} is not a valid S3 bucket name")
    if backend == "aws":
        endpoint = _str(s, "wire_s3_endpoint", required=True)
        if urlsplit(endpoint).scheme != "https":
            raise ValuesError("wire_s3_endpoint: must be an https:// endpoint for AWS S3")
        s3_key, s3_secret = _str(s, "wire_s3_aws_key_id"), _str(s, "wire_s3_aws_secret_key")
        if not s3_key or not s3_secret:
            raise ValuesError(f"{'wire_s3_aws_key_id' if not s3_key else 'wire_s3_aws_secret_key'}: required "
                              "for wire_s3_backend aws")
        if style == "virtual" and "." in bucket:
            raise ValuesError(f"wire_s3_addressing_style: virtual with bucket {bucket!r} containing '.' fails TLS "
                              "validation; use auto or a bucket name without dots")
    else:
        endpoint, s3_key, s3_secret = facts["s3"]["minio_endpoint"], None, None
        if _str(s, "wire_s3_endpoint"):
            raise ValuesError("wire_s3_endpoint: only for wire_s3_backend aws; MinIO is reached through the "
                              "minio-external service")

    limit = facts["limits"]["team_fanout"]
    team = _int(s, "wire_max_team_size", 1)
    if team > limit and not _bool(s, "wire_max_team_size_ack_2000"):
        raise ValuesError(f"wire_max_team_size: {team} is above {limit}: team members past {limit} no longer get "
                          "team events (e.g. a member joining) live over the websocket; set "
                          "wire_max_team_size_ack_2000: true to accept this")
    conv = _int(s, "wire_max_conv_size", 1)
    if conv > facts["limits"]["conversation_members"]:
        raise ValuesError(f"wire_max_conv_size: {conv} is above {facts['limits']['conversation_members']}, the "
                          "limit of one message's fan-out; it cannot be raised")

    base = inv.path if inv.path.is_dir() else inv.path.parent
    federation = _bool(s, "wire_federation_enabled")
    federation_ca = None
    if federation:
        ca_file = _file(s, "wire_federation_ca_file", base)
        federation_ca = tls.load_ca("wire_federation_ca_file", ca_file)
    elif _str(s, "wire_federation_ca_file"):
        raise ValuesError("wire_federation_ca_file: set, but wire_federation_enabled is false; enable federation or "
                          "remove it")
    opts = Options(
        domain=domain, federation_domain=federation_domain, namespace=namespace, dns=dns,
        http_proxy=http_proxy, https_proxy=https_proxy, proxy_services=proxy_services,
        no_proxy_extra=_list(s, "wire_no_proxy_extra"),
        no_proxy_per_service={k: list(v) for k, v in per_service.items()},
        push=push, push_aws=push_aws, push_aws_key_id=key_id, push_aws_secret_key=secret_key,
        cannon_replicas=cannon_replicas, drain=drain, ignored_upstreams=ignored, extra_upstreams=extras,
        websocket_lb=websocket_lb, websocket_lb_hostname=_host_name("wire_websocket_lb.hostname", ws_host)
        if ws_host else dns["nginz_ssl"], websocket_lb_annotations={str(k): str(v) for k, v in annotations.items()},
        smtp=smtp, s3_backend=backend, s3_style=style, s3_bucket=bucket, s3_endpoint=endpoint,
        s3_aws_key_id=s3_key, s3_aws_secret_key=s3_secret,
        self_hosted=_bool(s, "wire_self_hosted"), max_team_size=team, max_conv_size=conv,
        tls_cert_file=_file(s, "wire_tls_cert_file", base), tls_key_file=_file(s, "wire_tls_key_file", base),
        sft_enabled=_bool(s, "wire_sft_enabled"),
        sft_join_call_replicas=_int(s, "wire_sft_join_call_replicas", 1, 16),
        sft_turn_discovery=_bool(s, "wire_sft_turn_discovery"),
        team_settings=_bool(s, "wire_team_settings_enabled"), account_pages=_bool(s, "wire_account_pages_enabled"),
        federation=federation, federation_ca=federation_ca,
        ingress_node_ports={k: _int(s, f"wire_ingress_node_ports.{k}", 30000, 32767) for k in ("http", "https")},
    )
    check_groups(inv, opts)
    return opts


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.capitalize() for p in rest)


def check_groups(inv: Inventory, opts: Options) -> None:
    """Every enabled feature has its hosts, and hosts that must not share a VM do not."""
    names = data()["groups"]
    needed = [("cassandra", "wire-server (brig, galley, gundeck, spar store their data in Cassandra)"),
              ("elasticsearch", "wire-server (brig's user search)"),
              ("kube_control_plane", "the Kubernetes cluster the Helm releases go to"),
              ("kube_node", "the Kubernetes cluster the Helm releases go to"),
              ("rabbitmq", "wire-server (brig, cannon, galley, gundeck, background-worker exchange events over "
                           "RabbitMQ)"),
              ("postgresql", "wire-server (brig, galley, background-worker keep data in PostgreSQL)"),
              ("restund", "calling (TURN servers for brig's turnStatic list)")]
    if opts.s3_backend == "minio":
        needed.append(("minio", "wire_s3_backend: minio (cargohold's asset store)"))
    if opts.sft_enabled:
        needed.append(("sft", "wire_sft_enabled: true (conference calling)"))
    for key, why in needed:
        if not inv.group(key):
            raise ValuesError(f"group {names[key]}: no hosts, but {why} needs it")
    pg = {h.name for h in inv.group("postgresql")}
    for key in ("postgresql_rw", "postgresql_ro"):
        for h in inv.group(key):
            if h.name not in pg:
                raise ValuesError(f"group {names[key]}: host {h.name} is not in group {names['postgresql']}")
    if len(inv.group("postgresql_rw")) > 1:
        raise ValuesError(f"group {names['postgresql_rw']}: {len(inv.group('postgresql_rw'))} hosts; it names the one "
                          "primary")
    if not opts.sft_enabled:
        return
    turn = {h.name for h in inv.group("restund")}
    kube = {h.name for h in inv.group("kube_node")}
    for h in inv.group("sft"):
        if h.name in turn:
            raise ValuesError(f"group {names['sft']}: host {h.name} is also in group {names['restund']}; an SFT node "
                              "binds its host network and must not share a VM with a TURN server")
        if h.name not in kube:
            raise ValuesError(f"group {names['sft']}: host {h.name} is not in group {names['kube_node']}; sftd runs "
                              "as a Kubernetes pod, so SFT hosts must be Kubernetes nodes")
