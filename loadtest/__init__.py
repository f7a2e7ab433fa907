"""The load generator: ``conduit-loadtest --help`` (``python -m loadtest``). It drives load with
aiohttp's client (httpx slows sharply past ~50 concurrent requests on a small machine) and verifies
every answer. A client, not part of the server: its dependencies are the ``loadtest`` extra."""

try:
    import aiohttp  # noqa: F401
    import rich  # noqa: F401
except ModuleNotFoundError as missing:
    raise SystemExit(f"conduit-loadtest needs {missing.name}, from the loadtest extra: "
                     "pip install 'quart-conduit[loadtest]' (make's dev install has it)") from None
