"""Serving: the ASGI entry point (``asgi``), ``conduit-serve`` (``serve``) and its process supervisor
(``supervisor``), the ASGI guard the factory puts in front of Quart (``guard``, with the checks and
headers it applies: ``host_names``, ``security_headers``, ``connection_close``), and the fixes of
dependencies that no public API allows (``upstream_fixes``)."""
