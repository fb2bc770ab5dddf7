"""What runs from an inventory on the island: one inventory reader, one Ansible runner, pre-flight, Helm values,
SFT planning, the admin-host toolchain and the charts `helm install` uses offline."""
