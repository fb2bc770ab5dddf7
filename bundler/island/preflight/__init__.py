"""Pre-flight: every VM and the inventory as a whole checked against Wire's sizing table.

rules (data files) -> requirements (per host) -> the Ansible module measures and judges on the target ->
groups and matrix (whole inventory) -> report (pass/warn/fail lists, exit code) -> render (tables).
"""
