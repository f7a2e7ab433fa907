"""Infrastructure the app stands on: settings from the environment (``settings``), the database
(``database``, ``migrations``), which errors mean "the database is down, not now" (``outages``), rate
limits (``rate_limits``, counted in ``rate_limit_counters``) and the health probes (``health``)."""
