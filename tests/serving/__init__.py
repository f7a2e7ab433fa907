"""A real conduit-serve: keep-alive, slow clients, supervision, probes, database faults, the cluster."""
