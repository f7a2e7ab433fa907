# Conduit on Hypercorn. Build: docker build -t quart-conduit .
# Run:   docker run -p 8000:8000 -e CONDUIT_SECRET_KEY=... quart-conduit
# The image runs in production mode: without CONDUIT_SECRET_KEY it stops at once with one line.
FROM python:3.11-slim

ENV CONDUIT_ENV=production \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PATH=/srv/conduit/.venv/bin:$PATH

RUN useradd --create-home --uid 10001 conduit && pip install "uv==0.13.9"
WORKDIR /srv/conduit

# The dependency layer: the runtime dependencies exactly as uv.lock pins them (no extras: no load
# generator, no test tools). It depends on these two files only, so a code change keeps it cached.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-install-project

# Then the code, and the project itself on top (seconds: every dependency is there already).
COPY README.md ./
COPY app ./app
RUN uv sync --locked

COPY templates ./templates
COPY static ./static
COPY migrations ./migrations
COPY docs ./docs
COPY hypercorn.toml ./
RUN mkdir -p instance && chown conduit:conduit instance

USER conduit
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# Migrate (a command, once), then serve with hypercorn.toml; every worker opens its own pool.
CMD ["sh", "-c", "quart --app app db upgrade && exec conduit-serve --bind 0.0.0.0:8000"]
