# The bot on a slim Python base: non-root, data in a volume, health-checked on /healthz.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY content ./content
RUN pip install ".[postgres]" \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin advocacy \
    && mkdir -p /data \
    && chown advocacy:advocacy /data

USER advocacy
WORKDIR /data
ENV DATABASE_URL=sqlite+aiosqlite:////data/advocacy.db \
    ADVOCACY_DATA_DIR=/data/.advocacy \
    ADVOCACY_HOST=0.0.0.0 \
    MPLBACKEND=Agg \
    PORT=3978
VOLUME ["/data"]
EXPOSE 3978

# On the port the server listens on: PORT, as `advocacy serve` reads it (advocacy.env may change it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '3978'), timeout=4).status == 200 else 1)"]

# SIGTERM stops taking requests, lets those in flight and the events in hand finish for a few
# seconds and leaves the rest in the inbox for the next start (well inside Docker's 10 s).
STOPSIGNAL SIGTERM
CMD ["advocacy", "serve"]
