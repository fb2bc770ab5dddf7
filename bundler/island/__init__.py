"""What works from an inventory on the island: one inventory reader, one Ansible runner, pre-flight, values, deploy."""
