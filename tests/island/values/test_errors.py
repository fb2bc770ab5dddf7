"""Inconsistent settings stop the run with an error that names the key, and nothing is written."""

from __future__ import annotations

import pytest

from bundler.island.values.errors import ValuesError

AWS = {"queue_name": "staging-gundeck-events", "account": "1", "region": "eu-central-1",
       "sns_endpoint": "https://sns.example", "sqs_endpoint": "https://sqs.example", "arn_env": "staging"}

CASES = [
    # (settings changes, the error must start with / contain)
    ({"wire_cannon_drain": {"min_batch_size": 0}}, "wire_cannon_drain.min_batch_size: 0 is out of range"),
    ({"wire_cannon_drain": {"grace_period_seconds": 0}}, "wire_cannon_drain.grace_period_seconds: 0"),
    ({"wire_cannon_drain": {"milliseconds_between_batches": "fast"}},
     "wire_cannon_drain.milliseconds_between_batches: must be a whole number"),
    ({"wire_cannon_drain": {"min_batch": 5}}, "wire_cannon_drain.min_batch: unknown drain option"),
    ({"wire_s3_addressing_style": "virtual"}, "wire_s3_addressing_style: 'virtual' with wire_s3_backend minio"),
    ({"wire_s3_addressing_style": "auto"}, "wire_s3_addressing_style: 'auto' with wire_s3_backend minio"),
    ({"wire_s3_addressing_style": "sideways"}, "wire_s3_addressing_style: 'sideways' is not one of"),
    ({"wire_max_team_size": 2001}, "wire_max_team_size: 2001 is above 2000"),
    ({"wire_max_team_size": 0}, "wire_max_team_size: 0 is out of range"),
    ({"wire_max_conv_size": 2001}, "wire_max_conv_size: 2001 is above 2000"),
    ({"wire_max_conv_size": 3000, "wire_max_team_size_ack_2000": True}, "wire_max_conv_size: 3000"),
    ({"wire_nginz_ignored_upstreams": ["ibis"]}, "wire_nginz_ignored_upstreams: 'ibis' is not a default upstream"),
    ({"wire_nginz_extra_upstreams": ["brig"]}, "wire_nginz_extra_upstreams: 'brig' is not an extra upstream"),
    ({"wire_nginz_ignored_upstreams": ["cannon"]}, "wire_nginz_ignored_upstreams: ignoring cannon"),
    ({"wire_push": "pigeon"}, "wire_push: 'pigeon' is not one of"),
    ({"wire_push": "wire"}, "wire_push_aws.queue_name: required"),
    ({"wire_push": "aws", "wire_push_aws": {**AWS, "arn_env": "prod"}, "wire_push_aws_key_id": "k",
      "wire_push_aws_secret_key": "s"}, "wire_push_aws.arn_env: 'prod' must be the environment name"),
    ({"wire_push": "aws", "wire_push_aws": AWS}, "wire_push_aws_key_id: required for wire_push=aws"),
    ({"wire_push": "aws", "wire_push_aws": {**AWS, "sqs_endpoint": "http://sqs.example"},
      "wire_push_aws_key_id": "k", "wire_push_aws_secret_key": "s"}, "wire_push_aws.sqs_endpoint: must be an https"),
    ({"wire_push_aws": AWS}, "wire_push_aws: set, but wire_push is websocket"),
    ({"wire_http_proxy": "proxy:8080"}, "wire_http_proxy: 'proxy:8080' is not an http:// or https:// URL"),
    ({"wire_http_proxy": "http://proxy:99999"}, "wire_http_proxy: 'http://proxy:99999' has an invalid port"),
    ({"wire_proxy_services": ["brig", "federator"]},
     "wire_proxy_services: 'federator' is not a wire-server service that reads proxy"),
    ({"wire_no_proxy_extra": ["x.example"]}, "wire_no_proxy_extra: a no-proxy list without wire_http_proxy"),
    ({"wire_proxy_services": ["gundeck"], "wire_no_proxy_per_service": {"gundeck": ["x"]}},
     "wire_no_proxy_per_service: a no-proxy list without"),
    ({"wire_http_proxy": "http://p:1", "wire_no_proxy_per_service": {"cannon": ["x"]}},
     "wire_no_proxy_per_service.cannon: cannon is not in wire_proxy_services"),
    ({"wire_smtp": {"host": None}}, "wire_smtp.host: required"),
    ({"wire_smtp": {"host": "mx.example", "conn_type": "starttls"}}, "wire_smtp.conn_type: 'starttls' is not one of"),
    ({"wire_smtp": {"host": "mx.example", "port": 0}}, "wire_smtp.port: 0 is out of range"),
    ({"wire_smtp_password": None}, "wire_smtp_password: required when wire_smtp.username is set"),
    ({"wire_domain": None}, "wire_domain: required"),
    ({"wire_domain": "localhost"}, "wire_domain: 'localhost' is not a DNS name"),
    ({"wire_dns": {"webmail": "mail"}}, "wire_dns.webmail: unknown name"),
    ({"wire_dns": {"webapp": "teams"}}, "wire_dns: teams.wire.example.org is used for two names"),
    ({"wire_namespace": "Wire_Prod"}, "wire_namespace: 'Wire_Prod' is not a valid Kubernetes namespace"),
    ({"wire_tls_cert_file": "nope.crt"}, "wire_tls_cert_file: "),
    ({"wire_tls_key_file": None}, "wire_tls_key_file: required"),
    ({"wire_maxteamsize": 10}, "wire_maxteamsize: unknown setting"),
    ({"wire_self_hosted": "yes"}, "wire_self_hosted: must be true or false"),
    ({"wire_s3_endpoint": "https://s3.example"}, "wire_s3_endpoint: only for wire_s3_backend aws"),
    ({"wire_s3_bucket": "Assets_1"}, "wire_s3_bucket: 'Assets_1' is not a valid S3 bucket name"),
    ({"wire_s3_backend": "aws", "wire_s3_endpoint": "https://s3.example", "wire_s3_aws_key_id": "k",
      "wire_s3_aws_secret_key": "s", "wire_s3_addressing_style": "virtual", "wire_s3_bucket": "wire.assets"},
     "wire_s3_addressing_style: virtual with bucket 'wire.assets'"),
    ({"wire_s3_backend": "aws", "wire_s3_endpoint": "https://s3.example"}, "wire_s3_aws_key_id: required"),
    ({"wire_ingress_node_ports": {"https": 443}}, "wire_ingress_node_ports.https: 443 is out of range"),
    ({"wire_federation_enabled": True}, "wire_federation_ca_file: required"),
    ({"wire_federation_enabled": True, "wire_federation_ca_file": "wildcard.key"},
     "wire_federation_ca_file: "),
    ({"wire_federation_ca_file": "wildcard.crt"}, "wire_federation_ca_file: set, but wire_federation_enabled is false"),
]


@pytest.mark.parametrize("changes,message", CASES, ids=[c[1].split(":")[0] + f"-{i}" for i, c in enumerate(CASES)])
def test_inconsistent_setting_is_an_error_naming_the_key(site, changes, message):
    with pytest.raises(ValuesError) as err:
        site.generate(**changes)
    assert message in str(err.value)
    assert str(err.value).split(":")[0] in message  # the key comes first
    assert not site.out.exists()


def _drop_group(site, group):
    site.hosts = {k: v for k, v in site.hosts.items() if group not in v["groups"]}


@pytest.mark.parametrize("group,why", [("cassandra", "wire-server"), ("elasticsearch", "brig's user search"),
                                       ("rabbitmq", "RabbitMQ"), ("postgresql", "PostgreSQL"),
                                       ("minio", "wire_s3_backend: minio"), ("sft", "wire_sft_enabled: true"),
                                       ("restund", "TURN"), ("kube_node", "Kubernetes")])
def test_missing_group_for_enabled_feature(site, group, why):
    if group == "kube_node":  # the control plane stays; SFT hosts are nodes too, so SFT goes as well
        for h in site.hosts.values():
            if "kube_control_plane" in h["groups"]:
                h["groups"] = ["kube_control_plane"]
        _drop_group(site, "sft")
        site.settings["wire_sft_enabled"] = False
    _drop_group(site, group)
    with pytest.raises(ValuesError, match=rf"^group {group}: no hosts, but .*{why}"):
        site.generate()


def test_sft_host_also_in_restund(site):
    site.hosts["sft1"]["groups"] = ["kube_node", "sft", "restund"]
    with pytest.raises(ValuesError, match=r"^group sft: host sft1 is also in group restund"):
        site.generate()


def test_sft_host_not_a_kubernetes_node(site):
    site.hosts["sft2"]["groups"] = ["sft"]
    with pytest.raises(ValuesError, match=r"^group sft: host sft2 is not in group kube_node"):
        site.generate()


def test_postgresql_primary_outside_the_postgresql_group(site):
    site.hosts["kubenode3"]["groups"] = [*site.hosts["kubenode3"]["groups"], "postgresql_rw"]
    with pytest.raises(ValuesError, match=r"^group postgresql_rw: host kubenode3 is not in group postgresql"):
        site.generate()


def test_two_postgresql_primaries(site):
    site.hosts["postgresql2"]["groups"] = ["postgresql", "postgresql_rw"]
    with pytest.raises(ValuesError, match=r"^group postgresql_rw: 2 hosts; it names the one primary"):
        site.generate()


def test_rabbitmq_host_without_ip(site):
    site.hosts["rabbitmq1"]["ansible_host"] = "rabbitmq1.internal"
    with pytest.raises(ValuesError, match=r"^ansible_host of rabbitmq1 \(group rabbitmq\): 'rabbitmq1.internal' is not "
                                          r"an IP address; the rabbitmq-external chart needs IPs"):
        site.generate()


def test_data_host_without_ip(site):
    site.hosts["cassandra2"]["ansible_host"] = "cassandra2.internal"
    with pytest.raises(ValuesError, match=r"^ansible_host of cassandra2 \(group cassandra\): 'cassandra2.internal'"):
        site.generate()


def test_certificate_not_covering_the_names(site):
    from tests.island.values.conftest import make_cert

    make_cert(site.root, ["*.other.example"], stem="other")
    with pytest.raises(ValuesError, match=r"^wire_tls_cert_file: certificate names \*\.other\.example do not cover"):
        site.generate(wire_tls_cert_file="other.crt", wire_tls_key_file="other.key")


def test_key_of_another_certificate(site):
    from tests.island.values.conftest import DOMAIN, make_cert

    make_cert(site.root, [f"*.{DOMAIN}"], stem="second")
    with pytest.raises(ValuesError, match=r"^wire_tls_key_file: .* is not the key of the certificate"):
        site.generate(wire_tls_key_file="second.key")


def test_setting_differs_between_hosts(site, tmp_path):
    site.hosts["kubenode2"]["wire_max_team_size"] = 900
    with pytest.raises(ValuesError, match=r"^wire_max_team_size: set to different values on hosts \S+ and \S+"):
        site.generate(wire_max_team_size=600)


def test_error_leaves_previous_output_untouched(site):
    site.generate()
    before = {p.name: p.read_bytes() for p in site.out.iterdir()}
    with pytest.raises(ValuesError):
        site.generate(wire_cannon_drain={"min_batch_size": 0})
    assert {p.name: p.read_bytes() for p in site.out.iterdir()} == before


def test_proxy_password_not_repeated_in_errors(site):
    with pytest.raises(ValuesError) as err:
        site.generate(wire_http_proxy="ftp://wire:pr0xy-pw@proxy:21")
    assert "pr0xy-pw" not in str(err.value) and "***" in str(err.value)
