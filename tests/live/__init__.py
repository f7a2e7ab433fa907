"""Live updates over WebSocket, through the test client and a live Hypercorn."""
