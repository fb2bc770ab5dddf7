"""The admin-host toolchain: a binary wheelhouse for a target Python and platform, and Ansible collections.

`wheels` resolves and fetches the wheels with pip itself (pinned by filename and sha256), `collections`
turns the collections vendored in a PyPI package into installable collection tarballs, `install_script`
writes the script that installs both on the island.
"""
