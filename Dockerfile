# The bot on a slim Python base: non-root, data in a volume, health-checked on /healthz.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A font with Japanese glyphs, so charts for Japanese readers (and Japanese objective names) are
# drawn in Japanese instead of as empty boxes; matplotlib finds it through fontconfig.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY content ./content
# The demo's files, its tour and the catalogues are package data: the install carries them
# (checked here: the demo's tour runs, and the German catalogue is found).
RUN pip install ".[postgres]" \
    && advocacy demo --tour > /dev/null \
    && cd / && python -c "from bot.i18n.catalogues import translations_for as t; assert t('de').singular" \
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

# Shell form, so the port is the one the server listens on (docker run -e PORT=8080 ...).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:${PORT:-3978}/healthz', timeout=4).status == 200 else 1)" || exit 1

# SIGTERM stops taking requests, lets those in flight and the events in hand finish for a few
# seconds and leaves the rest in the inbox for the next start (well inside Docker's 10 s).
STOPSIGNAL SIGTERM
CMD ["advocacy", "serve"]
