"""Pinned upstream files: fetched by URL and sha256 through the shared transport."""
