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
RUN pip install --no-cache-dir . && useradd --system --uid 10001 carbonledger
USER carbonledger
ENV CARBONLEDGER_LOG_FORMAT=json
ENTRYPOINT ["carbonledger"]
CMD ["--help"]
