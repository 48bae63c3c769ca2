# syntax=docker/dockerfile:1
# churchtext: gunicorn serving the API; `bootstrap` prepares the registry at start.
#   docker build -t churchtext .
#   docker run -p 8000:8000 -v churchtext-var:/app/var churchtext
# With no environment it runs the embedded default (SQLite under /app/var); set
# APP_ENV=production, SECRET_KEY, CREDENTIALS_KEY, ALLOWED_HOSTS, DATABASE_URL,
# TENANT_DB_SERVERS, REDIS_URL and CELERY_BROKER_URL for a real deployment.

# --- builder: dependencies into a virtualenv -------------------------------------
# The same base image as the final stage, so the venv's interpreter paths match.
FROM python:3.13-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only pyproject.toml: the dependency layer is rebuilt when dependencies change,
# not on every source edit. The project declares no packages (the source is run
# from /app), so this installs the runtime dependencies only, without dev extras.
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .

# --- final: the venv, the source, a non-root user ---------------------------------
FROM python:3.13-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app

# pg_dump and pg_restore for backups, restores and moves: from PostgreSQL's own
# repository, at least the servers' major version (the commands refuse an
# older one). Build with --build-arg PG_CLIENT_MAJOR=<your servers' major>.
ARG PG_CLIENT_MAJOR=17
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && apt-get purge -y curl && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The source stays root-owned (read-only to the app); only VAR_DIR is writable.
COPY . /app
RUN mkdir -p /app/var && chown app:app /app/var

USER app
# The SQLite registry and tenant files of the embedded default live here; keep
# it on a volume so tenants survive a new container.
VOLUME ["/app/var"]
EXPOSE 8000

# Liveness only (/healthz checks no dependency). The Host header is taken from
# ALLOWED_HOSTS so that production's host check does not answer 400.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4)"]

# WORKERS (default 4) sets gunicorn's worker processes. `exec` makes gunicorn
# replace the shell as PID 1, so `docker stop` (SIGTERM) reaches it directly.
CMD ["sh", "-c", "python manage.py bootstrap && exec gunicorn -c config/gunicorn.py config.wsgi -b 0.0.0.0:8000 -w ${WORKERS:-4}"]
