"""The JSON API through Quart's test client: the RealWorld contract, errors, limits, cursors."""
