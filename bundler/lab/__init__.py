"""Island lab: simulated air-gapped Debian VMs (systemd-nspawn in private network namespaces)."""

from bundler.lab.errors import LabError
from bundler.lab.lab import Lab, LabHost, leftovers, teardown
from bundler.lab.spec import HostSpec, load_spec

__all__ = ["Lab", "LabHost", "HostSpec", "LabError", "load_spec", "leftovers", "teardown"]
