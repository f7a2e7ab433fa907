"""The contexts lab and its WSGI twin: every claim the lab makes about context-locals."""
