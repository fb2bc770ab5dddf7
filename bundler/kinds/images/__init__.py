"""Container images: references, the registry client (pull by digest, with auth and mirrors), OCI layout."""
