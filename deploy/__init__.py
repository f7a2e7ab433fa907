"""Deployment: the files production uses, and make cluster (cluster.py), which runs them here."""
