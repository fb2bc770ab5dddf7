"""One test per documented option: the `wire_*` setting lands at the key Wire's chart reads it from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.island.values.conftest import DOMAIN

CANNON_PODS = ["cannon-0.cannon.wire", "cannon-1.cannon.wire", "cannon-2.cannon.wire"]


def test_defaults(site):
    site.generate()
    ws = site.values("wire-server")
    assert ws["cannon"]["config"]["drainOpts"] == {
        "gracePeriodSeconds": 25, "millisecondsBetweenBatches": 50, "minBatchSize": 20}
    assert ws["nginz"]["nginx_conf"]["ignored_upstreams"] == []
    assert ws["nginz"]["nginx_conf"]["enabled_extra_upstreams"] == []
    assert ws["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 500
    assert ws["galley"]["config"]["settings"]["maxTeamSize"] == 500
    assert ws["cargohold"]["config"]["aws"]["s3AddressingStyle"] == "path"
    assert site.values("team-settings")["envVars"]["IS_SELF_HOSTED"] == "true"
    assert site.values("account-pages")["envVars"]["IS_SELF_HOSTED"] == "true"
    # No proxy unless asked for.
    assert all("proxy" not in (ws.get(s, {}).get("config") or {}) for s in ("brig", "gundeck", "cargohold"))


def test_http_proxy_and_no_proxy_per_service(site):
    site.generate(wire_http_proxy="http://proxy.corp.example:3128", wire_https_proxy="http://proxy.corp.example:3128",
                  wire_proxy_services=["brig", "gundeck"], wire_no_proxy_extra=["registry.island.example"],
                  wire_no_proxy_per_service={"gundeck": ["push.island.example"]})
    ws = site.values("wire-server")
    gundeck = ws["gundeck"]["config"]["proxy"]
    brig = ws["brig"]["config"]["proxy"]
    assert gundeck["httpProxy"] == gundeck["httpsProxy"] == "http://proxy.corp.example:3128"
    # Wire's documented cluster-internal names, cannon's pods in our namespace, the operator's extras.
    for name in ["localhost", "elasticsearch-external", "cassandra-external", "redis-ephemeral", "fake-aws-sqs",
                 "fake-aws-dynamodb", "fake-aws-sns", "brig", "cargohold", "galley", "gundeck", "proxy", "spar",
                 "federator", "cannon", *CANNON_PODS, "registry.island.example", f".{DOMAIN}"]:
        assert name in gundeck["noProxyList"], name
        assert name in brig["noProxyList"], name
    assert "push.island.example" in gundeck["noProxyList"]
    assert "push.island.example" not in brig["noProxyList"]
    assert "proxy" not in ws["galley"]["config"]
    assert "proxy" not in ws["cargohold"]["config"]


def test_no_proxy_follows_namespace_and_cannon_replicas(site):
    site.generate(wire_http_proxy="http://proxy:8080", wire_namespace="prod", wire_cannon_replicas=5)
    nop = site.values("wire-server")["brig"]["config"]["proxy"]["noProxyList"]
    assert [n for n in nop if n.startswith("cannon-")] == [f"cannon-{i}.cannon.prod" for i in range(5)]
    assert site.values("wire-server")["cannon"]["replicaCount"] == 5
    assert "httpsProxy" not in site.values("wire-server")["brig"]["config"]["proxy"]


@pytest.mark.parametrize("mode", ["wire", "aws"])
def test_push_through_sns_sqs(site, mode):
    aws = {"queue_name": "staging-gundeck-events", "account": "123456789", "region": "eu-central-1",
           "sns_endpoint": "https://sns.eu-central-1.amazonaws.com",
           "sqs_endpoint": "https://sqs.eu-central-1.amazonaws.com", "arn_env": "staging"}
    site.generate(wire_push=mode, wire_push_aws=aws, wire_push_aws_key_id="AKIDSTANDIN",
                  wire_push_aws_secret_key="push-secret-standin")
    g = site.values("wire-server")["gundeck"]["config"]["aws"]
    assert g == {"queueName": "staging-gundeck-events", "account": "123456789", "region": "eu-central-1",
                 "snsEndpoint": "https://sns.eu-central-1.amazonaws.com",
                 "sqsEndpoint": "https://sqs.eu-central-1.amazonaws.com", "arnEnv": "staging"}
    fa = site.values("fake-aws")
    # No fake SNS and no gundeck queue in fake SQS; brig's internal queue stays there.
    assert fa["fake-aws-sns"]["enabled"] is False
    assert fa["fake-aws-sqs"] == {"enabled": True, "queueNames": ["wire-brig-events-internal"]}
    sec = site.secrets()["releases"]["wire-server"]["gundeck"]["secrets"]
    assert sec["awsKeyId"] == "AKIDSTANDIN" and sec["awsSecretKey"] == "push-secret-standin"
    assert "push-secret-standin" not in (site.out / "wire-server.yaml").read_text()


def test_push_websocket_only_uses_fake_aws(site):
    site.generate(wire_push="websocket")
    g = site.values("wire-server")["gundeck"]["config"]["aws"]
    assert g["sqsEndpoint"] == "http://fake-aws-sqs:4568" and g["snsEndpoint"] == "http://fake-aws-sns:4575"
    fa = site.values("fake-aws")
    assert fa["fake-aws-sns"]["enabled"] is True and fa["fake-aws-sqs"]["enabled"] is True
    assert fa["fake-aws-sqs"]["queueNames"] == ["wire-brig-events-internal", g["queueName"]]
    assert fa["fake-aws-s3"]["enabled"] is False
    assert "awsKeyId" not in site.secrets()["releases"]["wire-server"]["gundeck"]["secrets"]
    assert site.values("wire-server")["brig"]["config"]["aws"]["internalQueue"] == "wire-brig-events-internal"


def test_cannon_drain_options(site):
    site.generate(wire_cannon_drain={"grace_period_seconds": 86400, "milliseconds_between_batches": 86400000,
                                     "min_batch_size": 1})
    assert site.values("wire-server")["cannon"]["config"]["drainOpts"] == {
        "gracePeriodSeconds": 86400, "millisecondsBetweenBatches": 86400000, "minBatchSize": 1}


def test_cannon_drain_partial_override_keeps_other_defaults(site):
    site.generate(wire_cannon_drain={"min_batch_size": 100000, "grace_period_seconds": 1})
    assert site.values("wire-server")["cannon"]["config"]["drainOpts"] == {
        "gracePeriodSeconds": 1, "millisecondsBetweenBatches": 50, "minBatchSize": 100000}


def test_nginz_upstreams(site):
    site.generate(wire_nginz_extra_upstreams=["proxy", "ibis"], wire_nginz_ignored_upstreams=["spar"])
    conf = site.values("wire-server")["nginz"]["nginx_conf"]
    assert conf["ignored_upstreams"] == ["spar"]
    assert conf["enabled_extra_upstreams"] == ["proxy", "ibis"]
    # wire-server 5.x deploys the proxy service always (no tag); its API keys file is in the secrets.
    assert "proxy" not in site.values("wire-server")["tags"]
    assert 'giphy = ""' in site.secrets()["releases"]["wire-server"]["proxy"]["secrets"]["proxy_config"]


def test_separate_websocket_load_balancer(site):
    site.generate(wire_websocket_lb={"enabled": True, "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}})
    ws = site.values("wire-server")
    assert ws["nginz"]["nginx_conf"]["ignored_upstreams"] == ["cannon"]
    nginz_svc = ws["cannon"]["service"]["nginz"]
    assert nginz_svc["enabled"] is True and nginz_svc["hostname"] == f"nginz-ssl.{DOMAIN}"
    # One annotation of ours always: the chart renders an empty map as invalid YAML.
    assert nginz_svc["annotations"] == {"wire-bundle/role": "websocket-load-balancer",
                                        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    assert site.values("nginx-ingress-services")["websockets"]["enabled"] is False
    sec = site.secrets()["releases"]["wire-server"]
    assert sec["cannon"]["secrets"]["nginz"]["zAuth"]["publicKeys"] == sec["nginz"]["secrets"]["zAuth"]["publicKeys"]
    assert "BEGIN CERTIFICATE" in sec["cannon"]["secrets"]["nginz"]["tls"]["crt"]


def test_smtp(site):
    site.generate(wire_smtp={"host": "mail.island.example", "port": 465, "conn_type": "ssl", "username": "wire",
                             "sender": "wire@island.example"}, wire_smtp_password="pw-standin")
    brig = site.values("wire-server")["brig"]["config"]
    assert brig["smtp"] == {"host": "mail.island.example", "port": 465, "connType": "ssl", "username": "wire"}
    assert brig["emailSMS"]["general"]["emailSender"] == "wire@island.example"
    assert brig["useSES"] is False
    assert site.secrets()["releases"]["wire-server"]["brig"]["secrets"]["smtpPassword"] == "pw-standin"
    assert "pw-standin" not in (site.out / "wire-server.yaml").read_text()


def test_s3_on_aws_uses_auto_addressing(site):
    site.hosts = {k: v for k, v in site.hosts.items() if "minio" not in v["groups"]}
    site.generate(wire_s3_backend="aws", wire_s3_endpoint="https://s3.eu-west-1.amazonaws.com",
                  wire_s3_aws_key_id="AKIDS3", wire_s3_aws_secret_key="s3-secret-standin", wire_s3_bucket="wire-assets")
    aws = site.values("wire-server")["cargohold"]["config"]["aws"]
    assert aws["s3AddressingStyle"] == "auto" and aws["s3Endpoint"] == "https://s3.eu-west-1.amazonaws.com"
    assert aws["s3Bucket"] == "wire-assets"
    assert not (site.out / "minio-external.yaml").exists()
    assert site.values("nginx-ingress-services")["fakeS3"]["enabled"] is False
    assert site.secrets()["releases"]["wire-server"]["cargohold"]["secrets"]["awsKeyId"] == "AKIDS3"


def test_s3_minio_path_style_and_keys(site):
    site.generate()
    aws = site.values("wire-server")["cargohold"]["config"]["aws"]
    assert aws == {"s3Bucket": "assets", "s3Endpoint": "http://minio-external:9000",
                   "s3DownloadEndpoint": f"https://assets.{DOMAIN}", "s3AddressingStyle": "path"}
    sec = site.secrets()
    assert sec["releases"]["wire-server"]["cargohold"]["secrets"] == {
        "awsKeyId": sec["generated"]["minio_access_key"], "awsSecretKey": sec["generated"]["minio_secret_key"]}
    assert sec["ansible"]["minio_access_key"] == sec["generated"]["minio_access_key"]


@pytest.mark.parametrize("flag,expected", [(True, "true"), (False, "false")])
def test_is_self_hosted(site, flag, expected):
    site.generate(wire_self_hosted=flag)
    assert site.values("team-settings")["envVars"]["IS_SELF_HOSTED"] == expected
    assert site.values("account-pages")["envVars"]["IS_SELF_HOSTED"] == expected


def test_team_settings_and_account_pages_can_be_left_out(site):
    site.generate(wire_team_settings_enabled=False, wire_account_pages_enabled=False)
    assert not (site.out / "team-settings.yaml").exists() and not (site.out / "account-pages.yaml").exists()
    assert "URL_TEAMS_BASE" not in site.values("webapp")["envVars"]
    ing = site.values("nginx-ingress-services")
    assert ing["teamSettings"]["enabled"] is False and ing["accountPages"]["enabled"] is False


def test_max_team_size(site):
    site.generate(wire_max_team_size=1500)
    ws = site.values("wire-server")
    assert ws["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 1500
    assert ws["galley"]["config"]["settings"]["maxTeamSize"] == 1500


def test_max_team_size_above_2000_with_acknowledgement(site):
    site.generate(wire_max_team_size=5000, wire_max_team_size_ack_2000=True)
    assert site.values("wire-server")["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 5000


def test_dns_names_and_wildcard_certificate(site):
    site.generate()
    dns = site.values("nginx-ingress-services")["config"]["dns"]
    assert dns == {"https": f"nginz-https.{DOMAIN}", "ssl": f"nginz-ssl.{DOMAIN}", "webapp": f"webapp.{DOMAIN}",
                   "fakeS3": f"assets.{DOMAIN}", "teamSettings": f"teams.{DOMAIN}",
                   "accountPages": f"account.{DOMAIN}"}
    tls = site.secrets()["releases"]["nginx-ingress-services"]["secrets"]
    assert tls["tlsWildcardCert"] == site.cert.read_text() and tls["tlsWildcardKey"] == site.key.read_text()
    ws = site.values("wire-server")
    assert ws["brig"]["config"]["externalUrls"]["nginz"] == f"https://nginz-https.{DOMAIN}"
    assert site.values("webapp")["config"]["externalUrls"]["backendWebsocket"] == f"nginz-ssl.{DOMAIN}"


def test_dns_name_override(site):
    site.generate(wire_dns={"webapp": "app"})
    assert site.values("nginx-ingress-services")["config"]["dns"]["webapp"] == f"app.{DOMAIN}"
    assert site.values("sftd")["allowOrigin"] == f"https://app.{DOMAIN}"


def test_external_data_service_ips_from_groups(site):
    site.generate()
    assert site.values("cassandra-external") == {"IPs": ["192.0.2.31", "192.0.2.32", "192.0.2.33"]}
    assert site.values("elasticsearch-external") == {"IPs": ["192.0.2.41", "192.0.2.42", "192.0.2.43"]}
    assert site.values("minio-external") == {"IPs": ["192.0.2.51", "192.0.2.52", "192.0.2.53"]}
    ws = site.values("wire-server")
    assert ws["brig"]["config"]["cassandra"]["host"] == "cassandra-external"
    assert ws["brig"]["config"]["elasticsearch"]["host"] == "elasticsearch-external"


def test_turn_servers_from_restund_group(site):
    site.generate()
    turn = site.values("wire-server")["brig"]["turnStatic"]
    assert turn["v1"] == ["turn:198.51.100.61:3478", "turn:198.51.100.62:3478"]
    assert "turn:198.51.100.62:3478?transport=tcp" in turn["v2"]
    sec = site.secrets()
    assert sec["releases"]["wire-server"]["brig"]["secrets"]["turn"]["secret"] == sec["generated"]["turn_secret"]
    assert sec["ansible"]["restund_zrest_secret"] == sec["generated"]["turn_secret"]


def test_sftd(site):
    site.generate(wire_sft_join_call_replicas=2, wire_sft_turn_discovery=False)
    sft = site.values("sftd")
    assert sft["host"] == f"sftd.{DOMAIN}" and sft["allowOrigin"] == f"https://webapp.{DOMAIN}"
    assert sft["nodeSelector"] == {"wire.com/role": "sftd"}
    assert sft["replicaCount"] == 2  # one per host in group sft
    assert sft["joinCall"] == {"replicaCount": 2, "image": {"repository": "docker.io/bitnamilegacy/nginx",
                                                            "tag": "1.27.3-debian-12-r5"}}
    assert sft["turnDiscoveryEnabled"] is False
    assert site.values("wire-server")["brig"]["config"]["optSettings"]["setSftStaticUrl"] == \
        f"https://sftd.{DOMAIN}:443"
    assert "key" in site.secrets()["releases"]["sftd"]["tls"]


def test_sft_disabled_needs_no_sft_group(site):
    site.hosts = {k: v for k, v in site.hosts.items() if "sft" not in v["groups"]}
    site.generate(wire_sft_enabled=False)
    assert not (site.out / "sftd.yaml").exists()
    assert "setSftStaticUrl" not in site.values("wire-server")["brig"]["config"]["optSettings"]


def test_settings_file_overrides_inventory(site, tmp_path):
    over = tmp_path / "over.yml"
    over.write_text("wire_max_team_size: 800\nwire_cannon_drain: {min_batch_size: 7}\n")
    site.generate(settings_file=over, wire_max_team_size=600)
    ws = site.values("wire-server")
    assert ws["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 800
    assert ws["cannon"]["config"]["drainOpts"]["minBatchSize"] == 7


def test_release_order_and_manifest(site):
    site.generate()
    import yaml

    manifest = yaml.safe_load((site.out / "releases.yaml").read_text())
    names = [r["name"] for r in manifest["releases"]]
    assert names.index("cassandra-external") < names.index("wire-server") < names.index("sftd")
    assert names.index("nginx-ingress-services") < names.index("wire-server")
    assert manifest["namespace"] == "wire"
    for r in manifest["releases"]:
        assert (site.out / r["values"]).is_file()


def test_release_dropped_on_rerun_loses_its_file(site):
    site.generate()
    assert (site.out / "minio-external.yaml").exists() and (site.out / "sftd.yaml").exists()
    site.hosts = {k: v for k, v in site.hosts.items() if "minio" not in v["groups"] and "sft" not in v["groups"]}
    result = site.generate(wire_s3_backend="aws", wire_s3_endpoint="https://s3.example.org", wire_sft_enabled=False,
                           wire_s3_aws_key_id="k", wire_s3_aws_secret_key="s")
    assert not (site.out / "minio-external.yaml").exists() and not (site.out / "sftd.yaml").exists()
    assert "minio-external.yaml (removed)" in result.written
    assert "sftd" not in site.secrets()["releases"]


def test_proxy_with_password_goes_to_the_secrets(site):
    site.generate(wire_https_proxy="http://wire:pr0xy-pw@proxy.corp.example:3128")
    assert "pr0xy-pw" not in (site.out / "wire-server.yaml").read_text()
    ws = site.values("wire-server")
    # The no-proxy list stays public (its names must not become secret values); only the URL is secret.
    public = ws["brig"]["config"]["proxy"]
    assert set(public) == {"noProxyList"} and "brig" in public["noProxyList"]
    sec = site.secrets()["releases"]["wire-server"]
    assert sec["brig"]["config"]["proxy"] == {"httpsProxy": "http://wire:pr0xy-pw@proxy.corp.example:3128"}
    assert sec["brig"]["secrets"]["zAuth"]  # merged beside the generated secrets, not instead of them


def test_rabbitmq_and_postgresql_from_their_groups(site):
    site.generate()
    assert site.values("rabbitmq-external") == {"IPs": ["192.0.2.81", "192.0.2.82", "192.0.2.83"]}
    assert site.values("postgresql-external") == {"portPostgresql": 5432, "RWIPs": ["192.0.2.91"],
                                                  "ROIPs": ["192.0.2.92", "192.0.2.93"]}
    ws = site.values("wire-server")
    for svc in ("brig", "galley", "background-worker"):
        assert ws[svc]["config"]["postgresql"] == {"host": "postgresql-external-rw", "port": "5432",
                                                   "user": "wire-server", "dbname": "wire-server"}, svc
    for svc in ("brig", "galley", "gundeck", "cannon", "background-worker"):
        assert ws[svc]["config"]["rabbitmq"] == {"host": "rabbitmq-external", "port": 5672, "vHost": "/"}, svc
    for svc in ("cannon", "background-worker"):  # the chart's default would be aws-cassandra
        assert ws[svc]["config"]["cassandra"] == {"host": "cassandra-external"}, svc
    sec = site.secrets()
    pw = sec["generated"]["rabbitmq_password"]
    for svc in ("brig", "galley", "gundeck", "cannon", "background-worker"):
        # The user name in the values file, only the password in the vault (Helm merges the two).
        assert ws[svc]["secrets"] == {"rabbitmq": {"username": "wire-server"}}, svc
        assert sec["releases"]["wire-server"][svc]["secrets"]["rabbitmq"] == {"password": pw}, svc
    assert sec["releases"]["wire-server"]["brig"]["secrets"]["pgPassword"] == sec["generated"]["postgresql_password"]
    # The VM roles get the same accounts.
    assert sec["ansible"]["rabbitmq_password"] == pw and sec["ansible"]["rabbitmq_erlang_cookie"]
    assert sec["ansible"]["postgresql_wire_password"] == sec["generated"]["postgresql_password"]
    assert sec["ansible"]["postgresql_wire_user"] == "wire-server"


def test_postgresql_roles_default_to_first_host_primary(site):
    for name in ("postgresql1", "postgresql2", "postgresql3"):
        site.hosts[name]["groups"] = ["postgresql"]
    site.generate()
    assert site.values("postgresql-external") == {"portPostgresql": 5432, "RWIPs": ["192.0.2.91"],
                                                  "ROIPs": ["192.0.2.92", "192.0.2.93"]}


def test_federation(site):
    from tests.island.values.conftest import make_cert

    ca, _ = make_cert(site.root, ["remote-ca.example"], stem="remote-ca")
    site.generate(wire_federation_enabled=True, wire_federation_ca_file="remote-ca.crt",
                  wire_federation_domain="example.org")
    ws = site.values("wire-server")
    assert ws["tags"]["federation"] is True
    assert ws["federator"] == {"tls": {"useSharedFederatorSecret": True}, "remoteCAContents": ca.read_text()}
    assert ws["brig"]["config"]["optSettings"]["setFederationStrategy"] == "allowDynamic"
    for svc in ("brig", "galley", "cargohold", "background-worker"):
        assert ws[svc]["config"]["enableFederation"] is True, svc
    assert ws["background-worker"]["config"]["federationDomain"] == "example.org"
    ing = site.values("nginx-ingress-services")
    assert ing["federator"]["enabled"] is True and ing["config"]["dns"]["federator"] == f"federator.{DOMAIN}"
    assert site.secrets()["releases"]["nginx-ingress-services"]["secrets"]["tlsClientCA"] == ca.read_text()


def test_galley_conversation_links_and_brig_email_links_point_at_account_pages(site):
    site.generate()
    ws = site.values("wire-server")
    assert ws["galley"]["config"]["settings"]["conversationCodeURI"] == f"https://account.{DOMAIN}/conversation-join/"
    assert ws["brig"]["config"]["emailSMS"]["user"]["passwordResetUrl"].startswith(f"https://account.{DOMAIN}/reset/")


def test_smtp_without_credentials_writes_an_empty_password_file(site):
    site.generate(wire_smtp={"host": "mail.island.example", "username": None}, wire_smtp_password=None)
    assert "username" not in site.values("wire-server")["brig"]["config"]["smtp"]
    assert site.secrets()["releases"]["wire-server"]["brig"]["secrets"]["smtpPassword"] == ""


def test_the_vm_roles_create_the_accounts_the_values_name():
    """roles/rabbitmq makes the user and vhost wire-server's charts are given (one account, two sides)."""
    from bundler.island.values.defaults import data

    role = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/rabbitmq/defaults/main.yml").read_text())
    assert (role["rabbitmq_user"], role["rabbitmq_vhost"]) == (data()["rabbitmq"]["user"], data()["rabbitmq"]["vhost"])
    assert role["rabbitmq_amqp_port"] == data()["rabbitmq"]["port"]
