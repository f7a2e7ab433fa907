"""The load generator: ``python -m loadtest --help``. It drives load with aiohttp's client
(httpx slows sharply past ~50 concurrent requests on a small machine) and verifies every answer."""
