"""`wire-bundle deploy`: run the island playbooks through ansible-runner with live progress and a per-host recap."""
