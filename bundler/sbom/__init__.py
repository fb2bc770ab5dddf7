"""The bundle's SBOM: sbom.cdx.json (CycloneDX 1.6), made at build time from the lock and the image layers the
build holds; read back on the island by `wire-bundle sbom`. docs/sbom.md says what is in it."""
