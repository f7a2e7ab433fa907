"""Live updates over WebSocket: the event log's readers (hub.py), their doorbells (carriers.py),
the worker's extension and its session hooks (extension.py), the steps both faces' routes share
(serving.py) and the socket loop (socket.py). The site serves ``/live`` (its session cookie), the
API ``/api/live`` (its token); each face owns its route and its checks.
"""

from app.live.extension import Live, get_live
from app.live.serving import handshake_failed, serve, subscription_asked

__all__ = ["Live", "get_live", "handshake_failed", "serve", "subscription_asked"]
