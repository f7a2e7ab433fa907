"""What an operator sees of the running server: its figures at /metrics (Prometheus, added up
across the workers), a request ID on every request and every log line
it causes, one access line per request (route, status, duration, database time and statements,
user), a slow-request line naming its statements, logs as text or as JSON lines
(docs/observability.md)."""
