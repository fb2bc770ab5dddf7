"""The bundle format and its pipeline, kind-agnostic: the lock, bundle.json and the protocol constants."""
