# Adjutant service image: runs `adjutant serve` against external PostgreSQL (with pgvector) and Redis.
#   docker build -t adjutant .
#   docker run -p 8084:8084 -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... adjutant
FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY app ./app
COPY migrations ./migrations
COPY settings.toml config_template.json ./
RUN uv sync --locked --no-dev

FROM python:3.11-slim-bookworm
# git (and ssh for git@ URLs): code search clones repositories posted to /v1/repositories.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin adjutant \
 && install -d -o adjutant -g adjutant /home/adjutant/.local/share/adjutant
WORKDIR /app
COPY --from=build --chown=adjutant:adjutant /app /app
USER adjutant
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ADJUTANT_SERVER__HOST=0.0.0.0 \
    ADJUTANT_EMBEDDED__ENABLED=false \
    ADJUTANT_LOGGING__FORMAT=json
EXPOSE 8084
# Clones for code search live under the data dir; mount a volume here to keep them across restarts.
VOLUME ["/home/adjutant/.local/share/adjutant"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8084/health', timeout=4).status != 200)"
CMD ["adjutant", "serve"]
