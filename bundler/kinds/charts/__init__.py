"""Helm charts: resolve versions in HTTP and OCI repositories, fetch them with their dependencies, and find
the images they use by rendering them with `helm template`."""
