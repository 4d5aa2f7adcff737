# One image for every carbonledger service; the command picks the role (ingest, simulate, ...).
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY carbonledger ./carbonledger
COPY edge ./edge
COPY ingest ./ingest
COPY accounts ./accounts
COPY analytics ./analytics
COPY dashboards ./dashboards
COPY simulator ./simulator
COPY launcher ./launcher
COPY trust ./trust
COPY finance ./finance
COPY projects ./projects
# The server extra: the base distribution is a gateway's (no database driver, Numba, web server).
RUN pip install --no-cache-dir '.[server]' && useradd --system --uid 10001 carbonledger \
    && mkdir -p /srv/broker-auth /srv/dashboards \
    && chown 1883:1883 /srv/broker-auth && chown carbonledger /srv/dashboards
# /srv/broker-auth: Mosquitto's passwd and acl, written as the broker's uid (docker-compose.yml);
# /srv/dashboards: the dashboards' JSON for Grafana. Both are volume mount points.
USER carbonledger
ENV CARBONLEDGER_LOG_FORMAT=json
ENTRYPOINT ["carbonledger"]
CMD ["--help"]
