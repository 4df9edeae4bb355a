# One image for the three services: `educonnect-bridge serve {idp,ent,aten}` (and `db backup`:
# postgresql-client gives pg_dump/pg_restore, version 15 like the postgres:15 service).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends xmlsec1 curl postgresql-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY educonnect_bridge educonnect_bridge
COPY federation federation
COPY idp idp
COPY sp_ent sp_ent
COPY aten_adapter aten_adapter
RUN pip install --no-cache-dir . && useradd --system --home /app educonnect
COPY config config
RUN mkdir -p /app/certs /app/var && chown -R educonnect /app/certs /app/var
USER educonnect
ENV EDUCONNECT_CONFIG_DIR=/app/config
ENTRYPOINT ["educonnect-bridge"]
