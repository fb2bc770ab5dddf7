"""The bundle format and its pipeline, whatever the artifact kind: spec -> lock -> fetch -> store -> archive, and
archive -> verify -> unpack. A kind plugs in through `artifacts` (the protocol in artifacts.py)."""
