"""Reading images out of rendered manifests: only typed container fields count."""

from __future__ import annotations

import pytest

from bundler.errors import BundleError
from bundler.kinds.charts.discover import images_in_manifests

STREAM = """---
# Source: app/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: main, image: "reg.example/app:1"}]
  ephemeralContainers: [{name: dbg, image: "reg.example/debug:2"}]
---
# Source: app/templates/rs.yaml
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  template:
    spec:
      containers: [{name: c, image: "reg.example/rs:3"}]
---
# Source: app/templates/list.yaml
apiVersion: v1
kind: List
items:
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: in-list}
    spec: {template: {spec: {containers: [{name: j, image: "reg.example/job:4"}]}}}
---
# Source: app/templates/crd.yaml
apiVersion: example.com/v1
kind: Backup
metadata: {name: not-a-workload}
spec:
  template: {spec: {containers: [{name: x, image: "reg.example/ignored:1"}]}}
---
# Source: app/templates/empty.yaml
"""


def test_typed_fields_of_workloads_only():
    found = images_in_manifests(STREAM, "test")
    assert [(f.image, f.template, f.kind, f.name, f.container, f.field) for f in found] == [
        ("reg.example/app:1", "app/templates/pod.yaml", "Pod", "debug", "main", "containers"),
        ("reg.example/debug:2", "app/templates/pod.yaml", "Pod", "debug", "dbg", "ephemeralContainers"),
        ("reg.example/rs:3", "app/templates/rs.yaml", "ReplicaSet", "rs", "c", "containers"),
        ("reg.example/job:4", "app/templates/list.yaml", "Job", "in-list", "j", "containers"),
    ]


def test_missing_image_is_reported_empty():
    (f,) = images_in_manifests("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n", "test")
    assert f.image == "" and f.template == "?"


def test_invalid_yaml_names_the_template():
    with pytest.raises(BundleError, match=r"^chart x: rendered x/templates/bad.yaml is not valid YAML"):
        images_in_manifests("---\n# Source: x/templates/bad.yaml\nkind: Pod\n  bad: [\n", "chart x")
