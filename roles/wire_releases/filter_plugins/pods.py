"""Filter `wire_unready_pods`: from `kubectl get pods -o json`, one line per pod that is not ready, saying why."""

from __future__ import annotations

import json


def _container_reason(status: dict) -> str | None:
    state = status.get("state") or {}
    for kind in ("waiting", "terminated"):
        s = state.get(kind)
        if s and s.get("reason") != "Completed":
            why = s.get("reason") or kind
            msg = (s.get("message") or "").strip().splitlines()
            return f"{status.get('name')} {kind} {why}" + (f": {msg[0][:160]}" if msg else "")
    if not status.get("ready"):
        return f"{status.get('name')} not ready (restarts {status.get('restartCount', 0)})"
    return None


def wire_unready_pods(pods) -> list[str]:
    """Pods whose Ready condition is not True (Succeeded pods, i.e. finished jobs, are fine)."""
    if isinstance(pods, str):
        pods = json.loads(pods)
    lines = []
    for pod in pods.get("items", []):
        status = pod.get("status") or {}
        phase = status.get("phase", "Unknown")
        if phase == "Succeeded":
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready:
            continue
        reasons = [r for r in (_container_reason(c) for c in
                               (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))
                   if r]
        if not reasons:
            unscheduled = [c.get("message") for c in status.get("conditions") or []
                           if c.get("type") == "PodScheduled" and c.get("status") == "False"]
            reasons = [f"unscheduled: {unscheduled[0]}"] if unscheduled else [status.get("reason") or "no status yet"]
        lines.append(f"{pod['metadata']['name']} ({phase}): " + "; ".join(reasons))
    return lines


class FilterModule:
    def filters(self):
        return {"wire_unready_pods": wire_unready_pods}
