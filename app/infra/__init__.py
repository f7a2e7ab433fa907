"""Infrastructure the app stands on: settings from the environment (``settings``), the database
(``database``, ``migrations``), which errors mean "the database is down, not now" (``outages``), the
client's address behind proxies (``client_address``), rate limits (``rate_limits`` as views apply
them, ``rate_limit_rules``, counted by ``rate_limiter`` in ``rate_limit_counters``) and the health
probes (``health``)."""
