#!/bin/sh
# Entrypoint of the crypto-mlops image. Credentials are never baked into the image: at container
# start, the URLs that need them are derived from the POSTGRES_* / MINIO_* variables that
# docker compose passes in from .env. Outside compose (POSTGRES_HOST / MINIO_ENDPOINT unset) the
# environment is used exactly as given.
set -eu

quote() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

if [ -n "${POSTGRES_HOST:-}" ] && [ -n "${POSTGRES_USER:-}" ]; then
  pg="postgresql+psycopg://$(quote "$POSTGRES_USER"):$(quote "${POSTGRES_PASSWORD:-}")@${POSTGRES_HOST}:${POSTGRES_PORT:-5432}"
  export DATABASE_URL="$pg/${POSTGRES_DB:-cryptodb}"
  export MLFLOW_BACKEND_STORE_URI="$pg/mlflow"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$pg/airflow"
fi

if [ -n "${MINIO_ENDPOINT:-}" ]; then
  export MLFLOW_S3_ENDPOINT_URL="$MINIO_ENDPOINT"
  export AWS_ACCESS_KEY_ID="${MINIO_ROOT_USER:-${AWS_ACCESS_KEY_ID:-}}"
  export AWS_SECRET_ACCESS_KEY="${MINIO_ROOT_PASSWORD:-${AWS_SECRET_ACCESS_KEY:-}}"
fi

exec "$@"
