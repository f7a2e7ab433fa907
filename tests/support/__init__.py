"""What the tests share, and the benchmarks too: starting servers and scratch PostgreSQL databases
(``servers``), query counting and bulk users (``database``), API and site helpers (``api``, ``site``),
databases a test may break (``broken_databases``), the contexts lab's helpers (``lab``)."""
