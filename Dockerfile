# syntax=docker/dockerfile:1
#
# Relay: one self-contained binary (SQLite, libpq and OpenSSL are compiled
# in), on a slim Debian runtime.
#
#   docker build -t relay .
#   docker run -p 8080:8080 -v relay-data:/app/data relay
#
# With no DATABASE_URL, Relay uses SQLite in the /app/data volume; on first
# start it writes an admin token to /app/data/initial-admin-token
# (`docker exec <container> cat /app/data/initial-admin-token`).

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The whole context (see .dockerignore): Cargo checks every target the
# manifest declares, and build.rs, migrations/ and templates/ are compiled in.
COPY . .
# Cache mounts keep the registry and the compiled dependencies between
# builds; the binary is copied out because the target mount is not kept in
# the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin relay \
    && install -m 0755 target/release/relay /usr/local/bin/relay

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin relay \
    && mkdir -p /app/data \
    && chown relay:relay /app/data \
    && chmod 0700 /app/data
WORKDIR /app
COPY --from=builder /usr/local/bin/relay /usr/local/bin/relay
COPY config/ /app/config/
# Relative paths in config/default.toml (data/relay.db, data/outbox,
# data/initial-admin-token) resolve under /app.
ENV RELAY_CONFIG_DIR=/app/config
# The built-in OpenSSL has no certificate store of its own: for
# `sslrootcert=system` in DATABASE_URL, trust the image's public roots.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER relay:relay
VOLUME ["/app/data"]
EXPOSE 8080
# The slim image has no curl: bash's /dev/tcp sends one HTTP request and the
# status line must say 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
CMD ["relay", "serve", "--bind", "0.0.0.0:8080"]
