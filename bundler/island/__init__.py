"""What runs from an inventory on the island: pre-flight, Helm values, SFT planning, the Ansible runner, the
admin-host toolchain and the charts `helm install` uses offline."""
