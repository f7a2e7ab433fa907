"""The ASGI entry point Hypercorn serves: ``hypercorn -c hypercorn.toml app.asgi:app``."""

from app import create_app

app = create_app()
