"""Serving: the ASGI entry point (``asgi``), ``conduit-serve`` (``serve``) and its process supervisor
(``supervisor``), the ASGI guard the factory puts in front of Quart (``guard``), and the fixes of
dependencies that no public API allows (``upstream_fixes``)."""
