"""The contexts lab under /contexts, and its WSGI twin (``app.contexts.wsgi_twin``).

The views are imported inside ``init_app`` so that importing the twin never loads the Quart lab.
"""

from __future__ import annotations

from quart import Quart


def init_app(app: Quart) -> None:
    from app.contexts.views import blueprint

    app.register_blueprint(blueprint)
