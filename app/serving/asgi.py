"""The ASGI entry point Hypercorn serves: ``hypercorn -c hypercorn.toml app.serving.asgi:app``.

Only a server imports this module, so what is here concerns serving processes alone.
"""

import gc

from app import create_app

app = create_app()


@app.before_serving
async def freeze_startup_heap() -> None:
    """Keep what start-up made (modules, the app, its routes and templates: ~150k objects) out of
    the garbage collector's full passes. Without it each full pass walked all of them and stopped
    the worker for 90-160 ms, about once every hundred requests on a list of 5,000 comments and,
    through them, on whatever request came next (bench.scale's p99 on SQLite writes: 4.7x and
    8.4x from 10k to 1M articles, from these pauses at both sizes). Registered last, this runs
    after every other start-up hook. (Python's gc.freeze, as Instagram's servers use it.)"""
    gc.collect()
    gc.freeze()
