"""Debian packages: resolve a closure with apt in an isolated root, fetch it, publish it as a signed repository."""
