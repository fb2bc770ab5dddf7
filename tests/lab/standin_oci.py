"""Writes a stand-in OCI image archive (one layer: busybox from the host's own busybox-static) to stdout.

Runs inside a lab host (`python3 - < standin_oci.py > img.tar`), so `ctr image import` can load an image with
no registry and no network. The image is a test stand-in and is never shipped.
"""

import hashlib
import io
import json
import sys
import tarfile


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


with open("/bin/busybox", "rb") as fh:
    busybox = fh.read()
layer_digest, layer = blob(tar_bytes([("bin/busybox", busybox, 0o755)]))
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/bin/busybox"], "Labels": {"stand-in": "true"}},
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
}).encode()
config_digest, config = blob(config)
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
               "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                "size": len(layer)}],
}).encode()
manifest_digest, manifest = blob(manifest)
index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                   "size": len(manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "lab.local/stand-in/busybox:1"}}],
}).encode()
members = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}', 0o644), ("index.json", index, 0o644)]
for digest, data in ((layer_digest, layer), (config_digest, config), (manifest_digest, manifest)):
    members.append(("blobs/sha256/" + digest.split(":")[1], data, 0o644))
sys.stdout.buffer.write(tar_bytes(members))
