"""`wire-bundle values` + `--check-charts` against Wire's real release 5.29.0 (tests/support/wire_release.py):
the production example inventory plus RabbitMQ/PostgreSQL hosts, each documented option in three combined runs,
checked with real helm over the bundle's chart layout (charts/NAME-VERSION.tgz) and over the loopback chart
repository, and the rendered ConfigMaps and Secrets carrying every setting where the real chart reads it.

Charts that cannot be rendered here are named in UNRENDERABLE with the reason; every other release must pass.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from bundler.island.values.check import objects, render
from bundler.kinds.charts.discover import images_in_manifests
from bundler.kinds.charts.render import find_helm
from tests.island.values.conftest import make_cert
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "wire.example.com"  # the production example's
PASSWORD = "conformance-only"
PROXY = "http://proxy.corp.example:3128"

UNRENDERABLE = {
    "postgresql-external": "not in shared/wire-release (upstream wireapp/wire-server has it only at a later "
                           "commit; build.json's 0.0.44 cannot be fetched here)",
}

# Each run combines independent options; together they cover every documented choice.
RUNS = {
    "federation-proxies-lb-aws-push-smtp-auth": {
        "wire_federation_enabled": True, "wire_federation_ca_file": "../certs/federation-ca.pem",
        "wire_http_proxy": PROXY, "wire_https_proxy": PROXY,
        "wire_proxy_services": ["brig", "cargohold", "galley", "gundeck", "spar", "proxy"],
        "wire_no_proxy_extra": ["registry.island.example"],
        "wire_websocket_lb": {"enabled": True},
        "wire_push": "aws", "wire_push_aws": {
            "queue_name": "prod-gundeck-events", "account": "123456789012", "region": "eu-central-1",
            "sns_endpoint": "https://sns.eu-central-1.amazonaws.com",
            "sqs_endpoint": "https://sqs.eu-central-1.amazonaws.com", "arn_env": "prod"},
        "wire_push_aws_key_id": "AKIDCONFORMANCE", "wire_push_aws_secret_key": "push-secret-conformance",
        "wire_smtp": {"host": "mail.corp.example", "port": 465, "conn_type": "ssl", "username": "wire"},
        "wire_smtp_password": "smtp-secret-conformance",
        "wire_max_team_size": 1500,
    },
    "plain-websocket-push-smtp-without-auth": {
        "wire_push": "websocket",
    },
    "wire-push-proxy-with-password": {
        "wire_push": "wire", "wire_push_aws": {
            "queue_name": "staging-gundeck-events", "account": "123456789012", "region": "eu-west-1",
            "sns_endpoint": "https://sns.eu-west-1.amazonaws.com",
            "sqs_endpoint": "https://sqs.eu-west-1.amazonaws.com", "arn_env": "staging"},
        "wire_push_aws_key_id": "AKIDWIRE", "wire_push_aws_secret_key": "wire-push-secret",
        "wire_https_proxy": "http://wire:pr0xy-pw@proxy.corp.example:3128",
        "wire_max_team_size": 5000, "wire_max_team_size_ack_2000": True,
    },
}


@pytest.fixture(scope="module")
def timing():
    started = time.monotonic()
    yield
    print(f"\ntests/wire_release/test_values_real_charts.py: {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
def bundle_charts(wire_release, tmp_path_factory) -> Path:
    """The charts as a bundle lays them out: charts/NAME-VERSION.tgz (bundler/kinds/charts.member_path)."""
    root = tmp_path_factory.mktemp("bundle")
    (root / "charts").mkdir()
    for tgz in wire_release.packages.values():
        shutil.copy(tgz, root / "charts" / tgz.name)
    return root / "charts"


@pytest.fixture(scope="module")
def wire_images(wire_release, tmp_path_factory) -> Path:
    """The images Wire's own example values (wire-server-deploy/values, prod) render from the release's charts,
    federation on, and those of the web apps, redis and the ingress controller with the example spec's value
    sets: what a bundle of the release carries. Our values must not need any image beyond these."""
    src = Path(os.environ.get("WIRE_RELEASE_DIR") or ROOT.parent / "shared" / "wire-release")
    work = tmp_path_factory.mktemp("wire-images")
    found: set[str] = set()
    for chart in ("wire-server", "fake-aws", "sftd", "nginx-ingress-services"):
        vals = src / "wire-server-deploy" / "values" / chart
        files = [vals / "prod-values.example.yaml"] if (vals / "prod-values.example.yaml").exists() else []
        files += [vals / "prod-secrets.example.yaml"] if (vals / "prod-secrets.example.yaml").exists() else []
        over = work / f"{chart}-federation.yaml"
        over.write_text("tags: {federation: true}\n" if chart == "wire-server" else "{}\n")
        text = render(find_helm(), wire_release.packages[chart], [*files, over], "wire", chart, work / "home")
        found |= {f.image for f in images_in_manifests(text, chart)}
    # The releases of their own since 5.x: what the example spec's discovery value sets (examples/wire-values)
    # render is what its bundle holds (tests/wire_release/test_example_spec.py checks the two agree).
    for chart in ("webapp", "team-settings", "account-pages", "redis-ephemeral", "ingress-nginx-controller"):
        sets = ROOT / "examples" / "wire-values" / chart
        files = sorted(sets.glob("base.yaml")) if sets.is_dir() else []
        text = render(find_helm(), wire_release.packages[chart], files, "wire", chart, work / "home")
        found |= {f.image for f in images_in_manifests(text, chart)}
    listing = work / "images.txt"
    listing.write_text("\n".join(sorted(found)) + "\n")
    return listing


def _site(tmp: Path, settings: dict) -> tuple[Path, Path, Path]:
    """The production example inventory with its certificate (and the federation CA) beside it, not in it."""
    inv = tmp / "inventory" / "production"
    shutil.copytree(ROOT / "inventory" / "examples" / "production", inv)
    certs = tmp / "inventory" / "certs"
    certs.mkdir()
    make_cert(certs, [f"*.{DOMAIN}", DOMAIN])
    ca, _ = make_cert(certs, ["federation-ca.other.example"], stem="federation-ca")
    ca.rename(certs / "federation-ca.pem")
    over = tmp / "settings.yml"
    over.write_text(yaml.safe_dump(settings))
    password = tmp / "vault-pass"
    password.write_text(PASSWORD + "\n")
    return inv, over, password


def _values(tmp: Path, settings: dict, check: str, *extra: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    inv, over, password = _site(tmp, settings)
    out = tmp / "values"
    proc = run_cli("values", "-i", inv, "-o", out, "--settings", over, "--vault-password-file", password,
                   "--check-charts", check, *extra, cwd=ROOT, timeout=600, env={"PYTHONPATH": str(ROOT)})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, out, password


def _report(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """release -> its line of the check's report."""
    lines = {}
    for ln in proc.stdout.splitlines():
        for head in ("checked ", "not checked ", "failed "):
            if ln.startswith(head):
                lines[ln.removeprefix(head).split(":", 1)[0]] = ln
    return lines


def _assert_checked(proc: subprocess.CompletedProcess, out: Path) -> None:
    manifest = yaml.safe_load((out / "releases.yaml").read_text())
    names = [r["name"] for r in manifest["releases"]]
    report = _report(proc)
    assert set(report) == set(names), proc.stdout  # every release is reported, none stops the others
    for name in names:
        if name in UNRENDERABLE:
            assert report[name].startswith("not checked"), report[name]
        else:
            assert report[name].startswith("checked") and report[name].endswith(", ok"), proc.stdout + proc.stderr
    assert proc.returncode == 1  # the unrenderable chart is a failure, named in the one-line error
    error = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(error) == 1 and "postgresql-external: no chart postgresql-external" in error[0]
    for name in names:
        if name not in UNRENDERABLE:
            assert f"; {name}:" not in error[0] and f": {name}:" not in error[0], error[0]


def _rendered(wire_release, out: Path, password: Path, release: str, tmp: Path) -> list[dict]:
    from bundler.island.values.vault import decrypt

    sec = decrypt(out / "secrets.vault.yaml", password.read_text().strip().encode())["releases"].get(release)
    files = [out / f"{release}.yaml"]
    if sec:
        files.append(tmp / f"{release}-secrets.yaml")
        files[-1].write_text(yaml.safe_dump(sec))
    return objects(render(find_helm(), wire_release.packages[release], files, "wire", release, tmp / "home"))


def _conf(objs, name, key=None):
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name)
    return yaml.safe_load(cm["data"][key or f"{name}.yaml"])


def _secret(objs, name):
    s = next(o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == name)
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def _env(objs, kind, name):
    w = next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)
    c = next(c for c in w["spec"]["template"]["spec"]["containers"] if c["name"] == name)
    return {e["name"]: e.get("value") for e in c.get("env") or []}


CASSANDRA = {"host": "cassandra-external", "port": 9042}
RABBITMQ = {"host": "rabbitmq-external", "port": 5672, "vHost": "/"}
POSTGRESQL = {"host": "postgresql-external-rw", "port": "5432", "user": "wire-server", "dbname": "wire-server"}


def _common(ws: list[dict], ext: dict[str, list[dict]]) -> None:
    """What every run must carry: the data services from the inventory, reached where each service reads them."""
    brig = _conf(ws, "brig")
    assert brig["cassandra"]["endpoint"] == CASSANDRA
    assert brig["elasticsearch"]["url"].startswith("http://elasticsearch-external:9200")
    for svc in ("brig", "galley", "background-worker"):
        pg = _conf(ws, svc)["postgresql"]
        assert {k: pg[k] for k in POSTGRESQL} == POSTGRESQL, svc
    for svc in ("brig", "cannon", "gundeck", "background-worker"):  # galley: only with federation (below)
        mq = _conf(ws, svc)["rabbitmq"]
        assert {k: mq[k] for k in RABBITMQ} == RABBITMQ, svc
    for svc in ("cannon", "background-worker", "galley", "gundeck", "spar"):
        assert _conf(ws, svc)["cassandra"]["endpoint"] == CASSANDRA, svc
    bw = _conf(ws, "background-worker")
    assert bw["cassandraGalley"]["endpoint"] == bw["cassandraBrig"]["endpoint"] == CASSANDRA
    for svc in ("brig", "cannon", "gundeck", "background-worker"):
        sec = _secret(ws, svc)
        assert sec["rabbitmqUsername"] == "wire-server" and len(sec["rabbitmqPassword"]) == 32, svc
    assert _secret(ws, "brig")["pgPassword"] == _secret(ws, "background-worker")["pgPassword"]
    assert _secret(ws, "nginz")["basic_auth.txt"].startswith("wire-admin:{SSHA}")
    assert _secret(ws, "nginz")["zauth.conf"] == _secret(ws, "brig")["publickey.txt"]
    galley = _conf(ws, "galley")["settings"]
    assert galley["conversationCodeURI"] == f"https://account.{DOMAIN}/conversation-join/"
    cargo = _conf(ws, "cargohold")
    assert cargo["aws"]["s3Endpoint"] == "http://minio-external:9000" and cargo["aws"]["s3AddressingStyle"] == "path"
    assert cargo["aws"]["s3DownloadEndpoint"] == f"https://assets.{DOMAIN}"
    jobs = {o["metadata"]["name"]: yaml.safe_dump(o) for o in ws if o["kind"] == "Job"}
    for job in ("cassandra-migrations", "galley-migrate-data", "gundeck-migrate-data", "spar-migrate-data",
                "brig-index-migrate-data"):
        assert "cassandra-external" in jobs[job], job
    for job in ("elasticsearch-index-create", "brig-index-migrate-data"):
        assert "elasticsearch-external" in jobs[job], job
    # No object keeps a default host of the chart (aws-cassandra, elasticsearch-client, host "postgresql").
    everything = yaml.safe_dump(ws)
    assert "aws-cassandra" not in everything and "elasticsearch-client" not in everything
    assert "host: postgresql\n" not in everything and "host=postgresql " not in everything
    ips = {n: [a["ip"] for a in next(o for o in objs if o["kind"] == "Endpoints")["subsets"][0]["addresses"]]
           for n, objs in ext.items()}
    assert ips == {"cassandra-external": ["10.0.0.31", "10.0.0.32", "10.0.0.33"],
                   "rabbitmq-external": ["10.0.0.71", "10.0.0.72", "10.0.0.73"]}


def test_every_option_renders_the_real_charts(wire_release, wire_release_repo, bundle_charts, wire_images,
                                              tmp_path, timing):
    results = {}
    for i, (run, settings) in enumerate(RUNS.items()):
        tmp = tmp_path / run
        tmp.mkdir()
        # The bundle's directory with --images on the first run, the chart repository on the others.
        check = [str(bundle_charts), "--images", str(wire_images)] if i == 0 else [wire_release_repo]
        proc, out, password = _values(tmp, settings, *check)
        _assert_checked(proc, out)
        ws = _rendered(wire_release, out, password, "wire-server", tmp)
        ext = {n: _rendered(wire_release, out, password, n, tmp) for n in ("cassandra-external", "rabbitmq-external")}
        _common(ws, ext)
        results[run] = (ws, out, password, tmp)

    # Federation, proxies, websocket LB, push via own SNS/SQS, SMTP with credentials, team size.
    ws, out, password, tmp = results["federation-proxies-lb-aws-push-smtp-auth"]
    brig = _conf(ws, "brig")
    assert brig["optSettings"]["setFederationDomain"] == DOMAIN
    assert brig["optSettings"]["setFederationStrategy"] == "allowDynamic"
    for svc in ("brig", "cargohold"):  # enableFederation: the services reach the federator
        assert _conf(ws, svc)["federator"] == {"host": "federator", "port": 8080}, svc
    assert {k: _conf(ws, "galley")["rabbitmq"][k] for k in RABBITMQ} == RABBITMQ
    assert _secret(ws, "galley")["rabbitmqUsername"] == "wire-server"
    assert brig["optSettings"]["setMaxTeamSize"] == 1500 and _conf(ws, "galley")["settings"]["maxTeamSize"] == 1500
    assert brig["emailSMS"]["email"]["smtpEndpoint"] == {"host": "mail.corp.example", "port": 465}
    assert brig["emailSMS"]["email"]["smtpConnType"] == "ssl"
    assert brig["emailSMS"]["email"]["smtpCredentials"]["smtpUsername"] == "wire"
    assert _secret(ws, "brig")["smtp-password.txt"] == "smtp-secret-conformance"
    assert _conf(ws, "federator")["optSettings"]["remoteCAStore"] == "/etc/wire/federator/ca/ca.crt"
    assert "BEGIN CERTIFICATE" in next(o for o in ws if o["kind"] == "ConfigMap"
                                       and o["metadata"]["name"] == "federator-ca")["data"]["ca.crt"]
    gundeck = _conf(ws, "gundeck")["aws"]
    assert gundeck["queueName"] == "prod-gundeck-events" and gundeck["sqsEndpoint"].startswith("https://sqs.")
    assert _secret(ws, "gundeck")["awsKeyId"] == "AKIDCONFORMANCE"
    for svc in ("brig", "cargohold", "galley", "gundeck", "spar", "proxy"):
        env = _env(ws, "Deployment", svc)
        assert env["HTTPS_PROXY"] == env["http_proxy"] == PROXY, svc
        assert "registry.island.example" in env["NO_PROXY"].split(","), svc
    lb = next(o for o in ws if o["kind"] == "Service" and o["metadata"]["name"] == "cannon-nginz")
    assert lb["spec"]["type"] == "LoadBalancer"
    assert _secret(ws, "cannon-nginz-cert")["tls.crt"].startswith("-----BEGIN CERTIFICATE")
    nginx_conf = next(o for o in ws if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "nginz")["data"]
    assert "upstream brig {" in nginx_conf["nginx.conf"] and "upstream cannon {" not in nginx_conf["nginx.conf"]
    ing = _rendered(wire_release, out, password, "nginx-ingress-services", tmp)
    fed_ingress = next(o for o in ing if o["kind"] == "Ingress" and o["metadata"]["name"] == "federator-ingress")
    assert fed_ingress["spec"]["rules"][0]["host"] == f"federator.{DOMAIN}"
    assert _secret(ing, "federator-ca-secret")["ca.crt"].startswith("-----BEGIN CERTIFICATE")
    assert f"nginz-ssl.{DOMAIN}" not in yaml.safe_dump(ing)  # the websocket name is the LB's, not the ingress's

    # Websocket-only push through fake SNS/SQS, SMTP without credentials, no federation.
    ws, out, password, tmp = results["plain-websocket-push-smtp-without-auth"]
    brig = _conf(ws, "brig")
    assert "smtpCredentials" not in brig["emailSMS"]["email"] and "federator" not in brig
    assert brig["optSettings"]["setFederationStrategy"] == "allowNone"
    assert _conf(ws, "gundeck")["aws"]["sqsEndpoint"] == "http://fake-aws-sqs:4568"
    assert "HTTPS_PROXY" not in _env(ws, "Deployment", "brig")
    assert not [o for o in ws if o["metadata"]["name"] == "federator"]
    fake = _rendered(wire_release, out, password, "fake-aws", tmp)
    assert {o["metadata"]["name"] for o in fake if o["kind"] == "Deployment"} >= {"fake-aws-sns", "fake-aws-sqs"}
    # fake SQS's queue configuration: brig's internal queue and gundeck's
    queues = "".join(str(v) for o in fake if o["kind"] == "ConfigMap" for v in (o.get("data") or {}).values())
    assert '"wire-brig-events-internal"' in queues and '"wire-gundeck-events"' in queues

    # Wire's push service; a proxy password stays out of the values file and still reaches the pods.
    ws, out, password, tmp = results["wire-push-proxy-with-password"]
    assert "pr0xy-pw" not in (out / "wire-server.yaml").read_text()
    assert _env(ws, "Deployment", "brig")["HTTPS_PROXY"] == "http://wire:pr0xy-pw@proxy.corp.example:3128"
    assert _conf(ws, "gundeck")["aws"]["arnEnv"] == "staging"
    assert _conf(ws, "brig")["optSettings"]["setMaxTeamSize"] == 5000


def test_every_failure_is_reported_with_helms_message_and_the_rest_still_checked(
        wire_release, bundle_charts, wire_images, tmp_path):
    """A broken chart (galley's required conversationCodeURI removed from what it reads) fails with helm's whole
    message, an image the bundle lacks is named with its workload, and every other release is still checked."""
    broken = tmp_path / "charts"
    shutil.copytree(bundle_charts, broken)
    tgz = next(broken.glob("wire-server-5*.tgz"))
    work = tmp_path / "unpacked"
    with tarfile.open(tgz) as tar:
        tar.extractall(work, filter="data")
    cm = work / "wire-server" / "templates" / "galley" / "configmap.yaml"
    cm.write_text(cm.read_text().replace(".conversationCodeURI", ".conversationCodeURIx"))
    tgz.unlink()
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(work / "wire-server", arcname="wire-server")
    partial = tmp_path / "partial.txt"
    partial.write_text("".join(ln + "\n" for ln in wire_images.read_text().split() if "elasticmq" not in ln))
    proc, out, _ = _values(tmp_path, RUNS["plain-websocket-push-smtp-without-auth"], str(broken),
                           "--images", str(partial))
    report = _report(proc)
    assert report["wire-server"].startswith("failed wire-server: helm template:")
    # helm's whole message: where (template, line) and why.
    assert "execution error at (wire-server/templates/galley/" in report["wire-server"]
    assert "or settings.multiIngress have to be set" in report["wire-server"]
    assert report["cassandra-external"].endswith(", ok") and report["nginx-ingress-services"].endswith(", ok")
    assert "wire-server: helm template failed:" in proc.stderr and proc.returncode == 1
    assert report["fake-aws"].endswith("1 problem(s)")
    assert "fake-aws: image not in partial.txt: softwaremill/elasticmq-native:1.6.11 (Deployment/fake-aws-sqs " \
           "container fake-aws-sqs)" in proc.stderr
