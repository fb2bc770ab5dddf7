"""Writes the Wire-shaped stand-in charts in tests/island/values/charts/
(run: python tests/island/values/make_standin_charts.py).

Wire's own charts cannot be fetched here. These stand-ins template the same values keys at the same places as
Wire's charts (brig.config.proxy -> the proxy env vars, cannon.config.drainOpts -> cannon.yaml, nginz's
ignored/extra upstreams, cargohold's s3AddressingStyle, IS_SELF_HOSTED, sftd's hostNetwork + nodeSelector,
the *-external charts' IPs), and fail with `required` where Wire's charts cannot work without a value.
They are test material only: named "stand-in", never shipped. test_standin_charts.py checks that the committed
files are what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "charts"
VERSION = "0.0.1-stand-in"
APP = "4.40.0"


def chart_yaml(name: str, deps: list[tuple[str, str]] | None = None) -> str:
    out = (f"apiVersion: v2\nname: {name}\nversion: {VERSION}\nappVersion: \"{APP}\"\n"
           f"description: Wire-shaped stand-in of the {name} chart, for tests only (never shipped)\n"
           "annotations:\n  wire-bundle/stand-in: \"true\"\n")
    if deps:
        out += "dependencies:\n"
        for dep, tag in deps:
            out += f"  - name: {dep}\n    version: {VERSION}\n"
            if tag:
                out += f"    tags: [{tag}]\n"
    return out


def proxy_env(values_root: str = ".Values.config.proxy") -> str:
    return (
        f"          {{{{- with {values_root} }}}}\n"
        "          {{- if .httpProxy }}\n"
        "          - name: http_proxy\n            value: {{ .httpProxy | quote }}\n"
        "          - name: HTTP_PROXY\n            value: {{ .httpProxy | quote }}\n"
        "          {{- end }}\n"
        "          {{- if .httpsProxy }}\n"
        "          - name: https_proxy\n            value: {{ .httpsProxy | quote }}\n"
        "          - name: HTTPS_PROXY\n            value: {{ .httpsProxy | quote }}\n"
        "          {{- end }}\n"
        "          {{- if .noProxyList }}\n"
        "          - name: no_proxy\n            value: {{ join \",\" .noProxyList | quote }}\n"
        "          - name: NO_PROXY\n            value: {{ join \",\" .noProxyList | quote }}\n"
        "          {{- end }}\n"
        "          {{- end }}\n"
    )


def workload(name: str, kind: str = "Deployment", extra_env: str = "", extra_containers: str = "",
             replicas: str = "{{ .Values.replicaCount }}", volumes: bool = True) -> str:
    vol = ("      volumes:\n        - name: config\n          configMap:\n"
           f"            name: {name}\n") if volumes else ""
    mount = ("          volumeMounts:\n            - name: config\n              mountPath: /etc/wire/"
             f"{name}/conf\n") if volumes else ""
    service_name = f"\n  serviceName: {name}" if kind == "StatefulSet" else ""
    return (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n"
        f"spec:\n  replicas: {replicas}{service_name}\n  selector:\n    matchLabels:\n      app: {name}\n"
        f"  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n{vol}"
        f"      containers:\n        - name: {name}\n"
        "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n"
        f"{mount}"
        "          env:\n          - name: LOG_LEVEL\n            value: Info\n"
        f"{extra_env}{proxy_env()}{extra_containers}"
    )


def values_yaml(name: str, extra: str = "", replicas: int = 1) -> str:
    return (f"replicaCount: {replicas}\nimage:\n  repository: quay.io/wire/{name}\n  tag: \"{APP}\"\n"
            f"config:\n  proxy: {{}}\n{extra}")


CHARTS: dict[str, dict[str, str]] = {}

CHARTS["wire-server/charts/brig"] = {
    "values.yaml": values_yaml("brig", "  cassandra:\n    host: null\n  elasticsearch:\n    host: null\n"
                               "  optSettings:\n    setMaxTeamSize: 10000\n    setMaxConvSize: 500\n"
                               "  smtp: {}\nturnStatic:\n  v1: []\n  v2: []\nsecrets: {}\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: brig\ndata:\n  {{- with .Values.config }}\n"
        "  brig.yaml: |\n"
        "    cassandra:\n      endpoint:\n        host: {{ required \"brig.config.cassandra.host\" .cassandra.host }}\n"
        "        port: 9042\n"
        "    elasticsearch:\n      url: http://{{ required \"brig.config.elasticsearch.host\" .elasticsearch.host }}"
        ":9200\n"
        "    externalUrls:\n{{ toYaml .externalUrls | indent 6 }}\n"
        "    emailSMS:\n      general:\n        emailSender: {{ required \"brig.config.emailSMS.general.emailSender\""
        " .emailSMS.general.emailSender }}\n"
        "    smtp:\n      host: {{ required \"brig.config.smtp.host\" .smtp.host }}\n"
        "      port: {{ .smtp.port }}\n      connType: {{ .smtp.connType }}\n"
        "      {{- if .smtp.username }}\n      username: {{ .smtp.username }}\n"
        "      passwordFile: /etc/wire/brig/secrets/smtp-password.txt\n      {{- end }}\n"
        "    useSES: {{ .useSES }}\n"
        "    optSettings:\n{{ toYaml .optSettings | indent 6 }}\n"
        "  {{- end }}\n"),
    "templates/turnconfigmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: turn\ndata:\n"
        "  turn-servers.txt: |\n{{- range .Values.turnStatic.v1 }}\n    {{ . }}\n{{- end }}\n"
        "  turn-servers-v2.txt: |\n{{- range .Values.turnStatic.v2 }}\n    {{ . }}\n{{- end }}\n"),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: brig\ntype: Opaque\ndata:\n"
        "  {{- with .Values.secrets }}\n"
        "  secretkey.txt: {{ required \"brig.secrets.zAuth.privateKeys\" .zAuth.privateKeys | b64enc | quote }}\n"
        "  publickey.txt: {{ required \"brig.secrets.zAuth.publicKeys\" .zAuth.publicKeys | b64enc | quote }}\n"
        "  turn-secret.txt: {{ required \"brig.secrets.turn.secret\" .turn.secret | b64enc | quote }}\n"
        "  {{- if .smtpPassword }}\n  smtp-password.txt: {{ .smtpPassword | b64enc | quote }}\n  {{- end }}\n"
        "  {{- end }}\n"),
    "templates/deployment.yaml": workload("brig"),
}

CHARTS["wire-server/charts/galley"] = {
    "values.yaml": values_yaml("galley", "  cassandra:\n    host: null\n  settings:\n    maxTeamSize: 10000\n"
                               "    maxConvSize: 500\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: galley\ndata:\n  {{- with .Values.config }}\n"
        "  galley.yaml: |\n"
        "    cassandra:\n      endpoint:\n"
        "        host: {{ required \"galley.config.cassandra.host\" .cassandra.host }}\n"
        "    settings:\n      maxTeamSize: {{ .settings.maxTeamSize }}\n"
        "      maxConvSize: {{ .settings.maxConvSize }}\n"
        "      federationDomain: {{ required \"galley.config.settings.federationDomain\""
        " .settings.federationDomain }}\n"
        "  {{- end }}\n"),
    "templates/deployment.yaml": workload("galley"),
}

CHARTS["wire-server/charts/gundeck"] = {
    "values.yaml": values_yaml("gundeck", "  cassandra:\n    host: null\n  aws: {}\nsecrets: {}\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gundeck\ndata:\n  {{- with .Values.config }}\n"
        "  gundeck.yaml: |\n"
        "    cassandra:\n      endpoint:\n"
        "        host: {{ required \"gundeck.config.cassandra.host\" .cassandra.host }}\n"
        "    aws:\n      queueName: {{ required \"gundeck.config.aws.queueName\" .aws.queueName }}\n"
        "      region: {{ .aws.region }}\n      account: {{ .aws.account | quote }}\n"
        "      arnEnv: {{ .aws.arnEnv }}\n      snsEndpoint: {{ .aws.snsEndpoint }}\n"
        "      sqsEndpoint: {{ .aws.sqsEndpoint }}\n"
        "  {{- end }}\n"),
    "templates/secret.yaml": (
        "{{- if hasKey .Values.secrets \"awsKeyId\" }}\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gundeck\ntype: Opaque\ndata:\n"
        "  awsKeyId: {{ .Values.secrets.awsKeyId | b64enc | quote }}\n"
        "  awsSecretKey: {{ .Values.secrets.awsSecretKey | b64enc | quote }}\n{{- end }}\n"),
    "templates/deployment.yaml": workload("gundeck", extra_env=(
        "          {{- if hasKey .Values.secrets \"awsKeyId\" }}\n"
        "          - name: AWS_ACCESS_KEY_ID\n            valueFrom:\n              secretKeyRef:\n"
        "                name: gundeck\n                key: awsKeyId\n"
        "          {{- end }}\n")),
}

CHARTS["wire-server/charts/cannon"] = {
    "values.yaml": (
        "replicaCount: 3\nimage:\n  repository: quay.io/wire/cannon\n  tag: \"" + APP + "\"\n"
        "nginzImage:\n  repository: quay.io/wire/nginz\n  tag: \"" + APP + "\"\n"
        "config:\n  drainOpts:\n    gracePeriodSeconds: 25\n    millisecondsBetweenBatches: 50\n"
        "    minBatchSize: 20\n  proxy: {}\n"
        "service:\n  nginz:\n    enabled: false\n    annotations: {}\nsecrets: {}\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cannon\ndata:\n  cannon.yaml: |\n"
        "    cannon:\n      host: 0.0.0.0\n      port: 8080\n"
        "    drainOpts:\n"
        "      gracePeriodSeconds: {{ .Values.config.drainOpts.gracePeriodSeconds }}\n"
        "      millisecondsBetweenBatches: {{ .Values.config.drainOpts.millisecondsBetweenBatches }}\n"
        "      minBatchSize: {{ .Values.config.drainOpts.minBatchSize }}\n"),
    "templates/statefulset.yaml": workload("cannon", kind="StatefulSet", extra_containers=(
        "      {{- if .Values.service.nginz.enabled }}\n"
        "        - name: nginz\n"
        "          image: \"{{ .Values.nginzImage.repository }}:{{ .Values.nginzImage.tag }}\"\n"
        "          ports:\n            - containerPort: 8443\n"
        "      {{- end }}\n"),
    ) + "      terminationGracePeriodSeconds: {{ add .Values.config.drainOpts.gracePeriodSeconds 5 }}\n",
    "templates/nginz-service.yaml": (
        "{{- if .Values.service.nginz.enabled }}\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: cannon-nginz\n"
        "  annotations:\n    external-dns.alpha.kubernetes.io/hostname: "
        "{{ required \"cannon.service.nginz.hostname\" .Values.service.nginz.hostname | quote }}\n"
        "    {{- with .Values.service.nginz.annotations }}\n{{ toYaml . | indent 4 }}\n    {{- end }}\n"
        "spec:\n  type: LoadBalancer\n  selector:\n    app: cannon\n  ports:\n    - port: 443\n"
        "      targetPort: 8443\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cannon-nginz\ntype: Opaque\ndata:\n"
        "  zauth.conf: {{ required \"cannon.secrets.nginz.zAuth.publicKeys\" .Values.secrets.nginz.zAuth.publicKeys"
        " | b64enc | quote }}\n"
        "  tls.crt: {{ required \"cannon.secrets.nginz.tls.crt\" .Values.secrets.nginz.tls.crt | b64enc | quote }}\n"
        "  tls.key: {{ required \"cannon.secrets.nginz.tls.key\" .Values.secrets.nginz.tls.key | b64enc | quote }}\n"
        "{{- end }}\n"),
}

CHARTS["wire-server/charts/cargohold"] = {
    "values.yaml": values_yaml("cargohold", "  aws: {}\nsecrets: {}\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cargohold\ndata:\n  {{- with .Values.config.aws }}\n"
        "  cargohold.yaml: |\n    aws:\n"
        "      s3Bucket: {{ required \"cargohold.config.aws.s3Bucket\" .s3Bucket }}\n"
        "      s3Endpoint: {{ required \"cargohold.config.aws.s3Endpoint\" .s3Endpoint }}\n"
        "      {{- if .s3DownloadEndpoint }}\n      s3DownloadEndpoint: {{ .s3DownloadEndpoint }}\n      {{- end }}\n"
        "      {{- if .s3AddressingStyle }}\n      s3AddressingStyle: {{ .s3AddressingStyle }}\n      {{- end }}\n"
        "  {{- end }}\n"),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cargohold\ntype: Opaque\ndata:\n"
        "  awsKeyId: {{ required \"cargohold.secrets.awsKeyId\" .Values.secrets.awsKeyId | b64enc | quote }}\n"
        "  awsSecretKey: {{ required \"cargohold.secrets.awsSecretKey\" .Values.secrets.awsSecretKey | b64enc"
        " | quote }}\n"),
    "templates/deployment.yaml": workload("cargohold"),
}

CHARTS["wire-server/charts/spar"] = {
    "values.yaml": values_yaml("spar", "  cassandra:\n    host: null\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: spar\ndata:\n  {{- with .Values.config }}\n"
        "  spar.yaml: |\n"
        "    cassandra:\n      endpoint:\n        host: {{ required \"spar.config.cassandra.host\" .cassandra.host }}\n"
        "    domain: {{ required \"spar.config.domain\" .domain }}\n"
        "    appUri: {{ required \"spar.config.appUri\" .appUri }}\n"
        "    ssoUri: {{ required \"spar.config.ssoUri\" .ssoUri }}\n"
        "  {{- end }}\n"),
    "templates/deployment.yaml": workload("spar"),
}

CHARTS["wire-server/charts/nginz"] = {
    "values.yaml": (
        "replicaCount: 1\nimage:\n  repository: quay.io/wire/nginz\n  tag: \"" + APP + "\"\n"
        "nginx_conf:\n  external_env_domain: null\n  ignored_upstreams: []\n  enabled_extra_upstreams: []\n"
        "  upstreams:\n    brig: [/users]\n    cannon: [/await]\n    cargohold: [/assets]\n"
        "    galley: [/conversations]\n"
        "    gundeck: [/notifications]\n    spar: [/sso]\n"
        "  extra_upstreams:\n    ibis: [/billing]\n    galeb: [/consent]\n    calling-test: [/calling-test]\n"
        "    proxy: [/proxy]\nsecrets: {}\nconfig:\n  proxy: {}\n"),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nginz\ndata:\n  {{- with .Values.nginx_conf }}\n"
        "  upstreams.txt: |\n"
        "  {{- range $name, $paths := .upstreams }}\n"
        "  {{- if not (has $name $.Values.nginx_conf.ignored_upstreams) }}\n"
        "    {{ $name }} {{ join \" \" $paths }}\n"
        "  {{- end }}\n  {{- end }}\n"
        "  {{- range $name, $paths := .extra_upstreams }}\n"
        "  {{- if has $name $.Values.nginx_conf.enabled_extra_upstreams }}\n"
        "    {{ $name }} {{ join \" \" $paths }}\n"
        "  {{- end }}\n  {{- end }}\n"
        "  server_name: {{ required \"nginz.nginx_conf.external_env_domain\" .external_env_domain }}\n"
        "  {{- end }}\n"),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nginz\ntype: Opaque\ndata:\n"
        "  zauth.conf: {{ required \"nginz.secrets.zAuth.publicKeys\" .Values.secrets.zAuth.publicKeys | b64enc"
        " | quote }}\n"),
    "templates/deployment.yaml": workload("nginz"),
}

for _svc in ("federator", "proxy"):
    CHARTS[f"wire-server/charts/{_svc}"] = {
        "values.yaml": values_yaml(_svc),
        "templates/deployment.yaml": workload(_svc, volumes=False),
    }

for _svc, _key in (("webapp", None), ("team-settings", "IS_SELF_HOSTED"), ("account-pages", "IS_SELF_HOSTED")):
    env = ("          {{- range $k, $v := .Values.envVars }}\n          - name: {{ $k }}\n"
           "            value: {{ $v | quote }}\n          {{- end }}\n"
           "          - name: BACKEND_REST\n            value: {{ required \"" + _svc +
           ".config.externalUrls.backendRest\" .Values.config.externalUrls.backendRest | quote }}\n"
           "          - name: APP_BASE\n            value: {{ printf \"https://%s\" "
           ".Values.config.externalUrls.appHost | quote }}\n")
    # Since 5.x the web apps are charts (and releases) of their own, not subcharts of wire-server.
    CHARTS[_svc] = {
        "values.yaml": (f"replicaCount: 1\nimage:\n  repository: quay.io/wire/{_svc}\n  tag: \"{APP}\"\n"
                        "envVars: {}\nconfig:\n  externalUrls: {}\n  proxy: {}\n"),
        "templates/deployment.yaml": workload(_svc, volumes=False, extra_env=env),
    }

_SUBS = [("brig", ""), ("galley", ""), ("gundeck", ""), ("cannon", ""), ("cargohold", ""), ("spar", "spar"),
         ("nginz", ""), ("federator", "federation"), ("proxy", "")]
CHARTS["wire-server"] = {
    "Chart.yaml": chart_yaml("wire-server", _SUBS),
    "values.yaml": "tags:\n  spar: true\n  federation: false\n",
}

CHARTS["sftd"] = {
    "values.yaml": (
        "replicaCount: 1\nimage:\n  repository: quay.io/wire/sftd\n  tag: \"4.1.4\"\n"
        "kubectlImage: docker.io/bitnami/kubectl:1.29.2\n"
        "nodeSelector: {}\ntls: {}\njoinCall:\n  replicaCount: 3\n  image:\n"
        "    repository: nginxinc/nginx-unprivileged\n    tag: \"1.25.3\"\nturnDiscoveryEnabled: false\n"),
    "templates/statefulset.yaml": (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: sftd\nspec:\n"
        "  replicas: {{ .Values.replicaCount }}\n  serviceName: sftd\n  selector:\n    matchLabels:\n      app: sftd\n"
        "  template:\n    metadata:\n      labels:\n        app: sftd\n    spec:\n"
        "      # One SFT per node: it binds the node's own address and media ports.\n"
        "      hostNetwork: true\n"
        "      initContainers:\n        - name: get-external-ip\n          image: {{ .Values.kubectlImage }}\n"
        "          command: [/bin/sh, -c, \"kubectl get node $HOSTNAME -o"
        " jsonpath='{.metadata.annotations.wire\\\\.com/external-ip}' > /external-ip/ip\"]\n"
        "      containers:\n        - name: sftd\n"
        "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n"
        "          args: [\"-u\", \"https://{{ required \"sftd.host\" .Values.host }}\"]\n"
        "          env:\n          - name: TURN_DISCOVERY\n"
        "            value: {{ .Values.turnDiscoveryEnabled | quote }}\n"
        "      {{- with .Values.nodeSelector }}\n      nodeSelector:\n{{ toYaml . | indent 8 }}\n      {{- end }}\n"),
    "templates/join-call.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sftd-join-call\nspec:\n"
        "  replicas: {{ .Values.joinCall.replicaCount }}\n  selector:\n    matchLabels:\n      app: sftd-join-call\n"
        "  template:\n    metadata:\n      labels:\n        app: sftd-join-call\n    spec:\n      containers:\n"
        "        - name: nginx\n"
        "          image: \"{{ .Values.joinCall.image.repository }}:{{ .Values.joinCall.image.tag }}\"\n"
        "          env:\n          - name: ALLOW_ORIGIN\n"
        "            value: {{ required \"sftd.allowOrigin\" .Values.allowOrigin | quote }}\n"),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sftd\ntype: kubernetes.io/tls\ndata:\n"
        "  tls.crt: {{ required \"sftd.tls.crt\" .Values.tls.crt | b64enc | quote }}\n"
        "  tls.key: {{ required \"sftd.tls.key\" .Values.tls.key | b64enc | quote }}\n"),
}

for _ext, _port in (("cassandra-external", 9042), ("elasticsearch-external", 9200), ("minio-external", 9000),
                    ("rabbitmq-external", 5672)):
    CHARTS[_ext] = {
        "values.yaml": "IPs: []\n",
        "templates/service.yaml": (
            f"{{{{- if not .Values.IPs }}}}{{{{ fail \"{_ext}: IPs must list the hosts\" }}}}{{{{- end }}}}\n"
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {_ext}\nspec:\n  clusterIP: None\n"
            f"  ports:\n    - port: {_port}\n---\n"
            f"apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: {_ext}\nsubsets:\n  - addresses:\n"
            "    {{- range .Values.IPs }}\n      - ip: {{ . }}\n    {{- end }}\n"
            f"    ports:\n      - port: {_port}\n"),
    }

# Wire's postgresql-external (wireapp/wire-server, later than 5.29.0) is not obtainable here: this stand-in
# reads its keys (portPostgresql, RWIPs, ROIPs) and makes its Services postgresql-external-rw and -ro.
CHARTS["postgresql-external"] = {
    "values.yaml": "portPostgresql: 5432\n",
    "templates/endpoint.yaml": (
        "{{- if not .Values.RWIPs }}{{ fail \"postgresql-external: RWIPs must list the primary\" }}{{- end }}\n"
        "{{- range $role, $ips := dict \"rw\" .Values.RWIPs \"ro\" .Values.ROIPs }}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: postgresql-external-{{ $role }}\nspec:\n"
        "  clusterIP: None\n  ports:\n    - port: {{ $.Values.portPostgresql }}\n---\n"
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: postgresql-external-{{ $role }}\nsubsets:\n"
        "  - addresses:\n    {{- range $ips }}\n      - ip: {{ . }}\n    {{- end }}\n"
        "    ports:\n      - port: {{ $.Values.portPostgresql }}\n"
        "{{- end }}\n"),
}

CHARTS["fake-aws"] = {
    "values.yaml": ("fake-aws-sns:\n  enabled: true\n  image: docker.io/localstack/localstack:0.8.0\n"
                    "fake-aws-sqs:\n  enabled: true\n  image: docker.io/airdock/fake-sqs:0.3.1\n  queueNames: []\n"
                    "fake-aws-s3:\n  enabled: true\n  image: docker.io/minio/minio:RELEASE.2020-10-28T08-16-50Z\n"
                    "fake-aws-ses:\n  enabled: false\n  image: docker.io/localstack/localstack:0.8.0\n"),
    "templates/fake.yaml": (
        "{{- range $name := list \"fake-aws-sns\" \"fake-aws-sqs\" \"fake-aws-s3\" \"fake-aws-ses\" }}\n"
        "{{- $v := index $.Values $name }}\n{{- if $v.enabled }}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ $name }}\nspec:\n  replicas: 1\n"
        "  selector:\n    matchLabels:\n      app: {{ $name }}\n  template:\n    metadata:\n      labels:\n"
        "        app: {{ $name }}\n    spec:\n      containers:\n        - name: {{ $name }}\n"
        "          image: {{ $v.image }}\n"
        "          env:\n          - name: QUEUES\n            value: {{ join \",\" ($v.queueNames | default list)"
        " | quote }}\n"
        "{{- end }}\n{{- end }}\n"),
}

# Wire's chart wraps upstream ingress-nginx: its values sit under the `ingress-nginx` key.
CHARTS["ingress-nginx-controller"] = {
    "values.yaml": ("ingress-nginx:\n  controller:\n    kind: Deployment\n"
                    "    image:\n      registry: registry.k8s.io\n      image: ingress-nginx/controller\n"
                    "      tag: v1.11.5\n      digest: sha256:" + "a1" * 32 + "\n"
                    "    service:\n      type: LoadBalancer\n      nodePorts: {}\n"),
    "templates/controller.yaml": (
        "{{- $c := (index .Values \"ingress-nginx\").controller }}\n"
        "apiVersion: apps/v1\nkind: {{ $c.kind }}\nmetadata:\n  name: ingress-nginx-controller\n"
        "spec:\n  selector:\n    matchLabels:\n      app: ingress-nginx\n  template:\n    metadata:\n"
        "      labels:\n        app: ingress-nginx\n    spec:\n      containers:\n        - name: controller\n"
        "          image: {{ $c.image.registry }}/{{ $c.image.image }}:{{ $c.image.tag }}"
        "{{ with $c.image.digest }}@{{ . }}{{ end }}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ingress-nginx-controller\nspec:\n"
        "  type: {{ $c.service.type }}\n  selector:\n    app: ingress-nginx\n  ports:\n"
        "    - name: http\n      port: 80\n"
        "      {{- with $c.service.nodePorts.http }}\n      nodePort: {{ . }}\n      {{- end }}\n"
        "    - name: https\n      port: 443\n"
        "      {{- with $c.service.nodePorts.https }}\n      nodePort: {{ . }}\n      {{- end }}\n"),
}

# groundhog2k's redis under the alias redis-ephemeral: the Service gundeck reads.
CHARTS["redis-ephemeral"] = {
    "values.yaml": ("redis-ephemeral:\n  image:\n    repository: redis\n    tag: \"7.4.6\"\n  resources: {}\n"),
    "templates/redis.yaml": (
        "{{- $r := index .Values \"redis-ephemeral\" }}\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: redis-ephemeral\nspec:\n  selector:\n"
        "    app: redis-ephemeral\n  ports:\n    - port: 6379\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: redis-ephemeral\nspec:\n  replicas: 1\n"
        "  selector:\n    matchLabels:\n      app: redis-ephemeral\n  template:\n    metadata:\n      labels:\n"
        "        app: redis-ephemeral\n    spec:\n      containers:\n        - name: redis\n"
        "          image: \"{{ $r.image.repository }}:{{ $r.image.tag }}\"\n"
        "          resources:\n{{ toYaml $r.resources | indent 12 }}\n"),
}

CHARTS["nginx-ingress-services"] = {
    "values.yaml": ("teamSettings:\n  enabled: false\naccountPages:\n  enabled: false\nwebsockets:\n  enabled: true\n"
                    "webapp:\n  enabled: true\nfakeS3:\n  enabled: true\nfederator:\n  enabled: false\n"
                    "tls:\n  enabled: true\nservice:\n  s3:\n    serviceName: fake-aws-s3\n    externalPort: 9000\n"
                    "config:\n  dns: {}\nsecrets: {}\n"),
    "templates/ingress.yaml": (
        "{{- $d := .Values.config.dns }}\n"
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: nginx-ingress\nspec:\n"
        "  ingressClassName: nginx\n  tls:\n    - secretName: nginz-tls\n      hosts:\n"
        "        - {{ required \"config.dns.https\" $d.https }}\n"
        "        {{- if .Values.websockets.enabled }}\n        - {{ required \"config.dns.ssl\" $d.ssl }}\n"
        "        {{- end }}\n"
        "        - {{ required \"config.dns.webapp\" $d.webapp }}\n"
        "        {{- if .Values.fakeS3.enabled }}\n        - {{ required \"config.dns.fakeS3\" $d.fakeS3 }}\n"
        "        {{- end }}\n"
        "        {{- if .Values.teamSettings.enabled }}\n"
        "        - {{ required \"config.dns.teamSettings\" $d.teamSettings }}\n        {{- end }}\n"
        "        {{- if .Values.accountPages.enabled }}\n"
        "        - {{ required \"config.dns.accountPages\" $d.accountPages }}\n        {{- end }}\n"
        "  rules:\n"
        "    - host: {{ $d.https }}\n      http:\n        paths:\n          - path: /\n"
        "            pathType: Prefix\n            backend:\n              service:\n                name: nginz\n"
        "                port:\n                  number: 8080\n"
        "    {{- if .Values.websockets.enabled }}\n"
        "    - host: {{ $d.ssl }}\n      http:\n        paths:\n          - path: /\n"
        "            pathType: Prefix\n            backend:\n              service:\n                name: nginz\n"
        "                port:\n                  number: 8081\n    {{- end }}\n"
        "    {{- if .Values.fakeS3.enabled }}\n"
        "    - host: {{ $d.fakeS3 }}\n      http:\n        paths:\n          - path: /\n"
        "            pathType: Prefix\n            backend:\n              service:\n"
        "                name: {{ .Values.service.s3.serviceName }}\n                port:\n"
        "                  number: {{ .Values.service.s3.externalPort }}\n    {{- end }}\n"),
    "templates/secret.yaml": (
        "{{- if .Values.tls.enabled }}\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nginz-tls\ntype: kubernetes.io/tls\ndata:\n"
        "  tls.crt: {{ required \"secrets.tlsWildcardCert\" .Values.secrets.tlsWildcardCert | b64enc | quote }}\n"
        "  tls.key: {{ required \"secrets.tlsWildcardKey\" .Values.secrets.tlsWildcardKey | b64enc | quote }}\n"
        "{{- end }}\n"),
}


def render() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for chart, members in CHARTS.items():
        name = chart.rsplit("/", 1)[-1]
        files[Path(chart) / "Chart.yaml"] = members.get("Chart.yaml", chart_yaml(name))
        for rel, text in members.items():
            if rel != "Chart.yaml":
                files[Path(chart) / rel] = text
    return files


def write(root: Path = HERE) -> None:
    for rel, text in render().items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
