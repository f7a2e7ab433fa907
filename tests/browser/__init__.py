"""The site in headless Chromium against a live Hypercorn: scripts, accessibility, live pages."""
