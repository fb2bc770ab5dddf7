"""`wire-bundle values`: Helm values for every Wire release, and an encrypted secrets file, from an inventory."""
