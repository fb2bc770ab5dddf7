"""Helpers that run real components for the tests: a registry, a fault proxy, image writers.

Nothing here is shipped; it lives under tests/ only.
"""
