"""The small Helm charts the chart tests write and package with the real `helm package`.

Every image points at `{reg}` (the test registry's host) so an end-to-end build can pull stand-ins for them.

- `lib` 0.1.0, 0.1.5, 0.2.0: a Job; `parent` depends on `^0.1.0` without vendoring it.
- `parent` 1.0.0: a Deployment with an initContainer (image written in the template) and its container image
  from values; a CronJob; a StatefulSet only when `federation.enabled`; a ConfigMap with an image-like string
  that is no image; a subchart `sub` vendored in charts/ (a DaemonSet, an `artifacthub.io/images`
  annotation); a `helm.sh/images` annotation.
- `tiny` in several versions for constraint resolution, one of them a pre-release.
- `ocichart` 0.1.0: a Pod, pushed to the registry as an OCI chart.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_VERSIONS = ["1.2.0", "1.3.4", "1.10.0", "2.0.0-rc.1", "2.0.0"]
LIB_VERSIONS = ["0.1.0", "0.1.5", "0.2.0"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def lib_chart(src: Path, version: str, reg: str) -> Path:
    return _write(src / f"lib-{version}", {
        "Chart.yaml": f"""
            apiVersion: v2
            name: lib
            version: {version}
            """,
        "templates/job.yaml": f"""
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: {{{{ .Release.Name }}}}-migrate
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers:
                    - name: migrate
                      image: {reg}/wire/lib-migrate:{version}
            """,
    })


def tiny_chart(src: Path, version: str, reg: str) -> Path:
    return _write(src / f"tiny-{version}", {
        "Chart.yaml": f"""
            apiVersion: v2
            name: tiny
            version: {version}
            """,
        "templates/pod.yaml": f"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: tiny
            spec:
              containers:
                - name: tiny
                  image: {reg}/wire/tiny:{version}
            """,
    })


def parent_chart(src: Path, reg: str, repo_url: str) -> Path:
    return _write(src / "parent", {
        "Chart.yaml": f"""
            apiVersion: v2
            name: parent
            version: 1.0.0
            appVersion: "5.0"
            annotations:
              helm.sh/images: |
                - name: brig-tools
                  image: {reg}/wire/brig-tools:5.0
            dependencies:
              - name: sub
                version: 0.3.0
              - name: lib
                version: ^0.1.0
                repository: {repo_url}
            """,
        "values.yaml": f"""
            brig:
              image: {reg}/wire/brig
              tag: "5.0"
            backup:
              image: {reg}/wire/backup:2.1
            federation:
              enabled: false
            boom: false
            """,
        "templates/deployment.yaml": f"""
            {{{{- if .Values.boom }}}}{{{{ fail "boom was asked for" }}}}{{{{ end }}}}
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: brig
            spec:
              selector:
                matchLabels: {{app: brig}}
              template:
                metadata:
                  labels: {{app: brig}}
                spec:
                  initContainers:
                    - name: wait-for-db
                      image: {reg}/wire/init:1.0
                  containers:
                    - name: brig
                      image: "{{{{ .Values.brig.image }}}}{{{{ with .Values.brig.tag }}}}:{{{{ . }}}}{{{{ end }}}}"
            """,
        "templates/cronjob.yaml": """
            apiVersion: batch/v1
            kind: CronJob
            metadata:
              name: backup
            spec:
              schedule: "0 3 * * *"
              jobTemplate:
                spec:
                  template:
                    spec:
                      restartPolicy: OnFailure
                      containers:
                        - name: backup
                          image: {{ .Values.backup.image }}
            """,
        "templates/federator.yaml": f"""
            {{{{- if .Values.federation.enabled }}}}
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: federator
            spec:
              serviceName: federator
              selector:
                matchLabels: {{app: federator}}
              template:
                metadata:
                  labels: {{app: federator}}
                spec:
                  containers:
                    - name: federator
                      image: {reg}/wire/federator:5.0
            {{{{- end }}}}
            """,
        "templates/config.yaml": f"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: not-images
            data:
              note: "image: {reg}/wire/not-an-image:1.0"
            """,
        "charts/sub/Chart.yaml": f"""
            apiVersion: v2
            name: sub
            version: 0.3.0
            annotations:
              artifacthub.io/images: |
                - name: helper
                  image: {reg}/wire/sub-helper:0.3
            """,
        "charts/sub/values.yaml": f"""
            image: {reg}/wire/sub-worker:0.3
            """,
        "charts/sub/templates/daemonset.yaml": """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata:
              name: sub-worker
            spec:
              selector:
                matchLabels: {app: sub}
              template:
                metadata:
                  labels: {app: sub}
                spec:
                  containers:
                    - name: worker
                      image: {{ .Values.image }}
            """,
    })


def oci_chart(src: Path, reg: str) -> Path:
    return _write(src / "ocichart", {
        "Chart.yaml": """
            apiVersion: v2
            name: ocichart
            version: 0.1.0
            """,
        "templates/pod.yaml": f"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: oci-pod
            spec:
              containers:
                - name: main
                  image: {reg}/wire/oci-pod:1.0
            """,
    })


def with_dependency(src: Path, name: str, version: str, dep: str, dep_version: str, dep_repo: str) -> Path:
    """A chart that lists `dep` in Chart.yaml; a placeholder of it is vendored only so that `helm package`
    accepts the chart, and the test strips it out of the package again."""
    return _write(src / f"{name}-{version}", {
        "Chart.yaml": f"""
            apiVersion: v2
            name: {name}
            version: {version}
            dependencies:
              - name: {dep}
                version: "{dep_version}"
                repository: {dep_repo}
            """,
        f"charts/{dep}/Chart.yaml": f"""
            apiVersion: v2
            name: {dep}
            version: 0.0.0-placeholder
            """,
    })


def with_nested_dependency(src: Path, name: str, version: str, dep: str, dep_version: str, dep_repo: str) -> Path:
    """An apiVersion v1 chart (dependencies in requirements.yaml, as most of Wire's) vendoring a subchart `mid`
    that lists `dep` without vendoring it: the test strips the placeholder of `dep` out of the package, as
    wire-server vendors legalhold but not legalhold's postgresql."""
    return _write(src / f"{name}-{version}", {
        "Chart.yaml": f"""
            apiVersion: v1
            name: {name}
            version: {version}
            """,
        "requirements.yaml": """
            dependencies:
              - name: mid
                version: 1.0.0
                repository: file://../mid
            """,
        "charts/mid/Chart.yaml": f"""
            apiVersion: v2
            name: mid
            version: 1.0.0
            dependencies:
              - name: {dep}
                version: "{dep_version}"
                repository: {dep_repo}
            """,
        f"charts/mid/charts/{dep}/Chart.yaml": f"""
            apiVersion: v2
            name: {dep}
            version: 0.0.0-placeholder
            """,
    })
