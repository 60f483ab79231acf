#!/bin/sh
# Start the MLflow server from environment variables (set by docker-compose.yml):
#   MLFLOW_BACKEND_STORE_URI      postgresql://user:password@postgres:5432/mlflow   (required)
#   MLFLOW_ARTIFACTS_DESTINATION  s3://bucket/mlflow                                (required)
#   MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY                (MinIO)
#   MLFLOW_ALLOWED_HOSTS          hosts clients may use, e.g. mlflow,mlflow:5000   (else 403 on Host: mlflow:5000)
#   MLFLOW_HOST (0.0.0.0), MLFLOW_PORT (5000), MLFLOW_WORKERS (2)
set -eu
: "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI (postgresql://...)}"
: "${MLFLOW_ARTIFACTS_DESTINATION:?set MLFLOW_ARTIFACTS_DESTINATION (s3://bucket/prefix)}"

# SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the image ships psycopg2.
case "$MLFLOW_BACKEND_STORE_URI" in
    postgresql://*) MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://${MLFLOW_BACKEND_STORE_URI#postgresql://}" ;;
esac

set -- mlflow server \
    --host "${MLFLOW_HOST:-0.0.0.0}" \
    --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-2}" \
    --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
    --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION" \
    --serve-artifacts
if [ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]; then
    set -- "$@" --allowed-hosts "$MLFLOW_ALLOWED_HOSTS"
fi
# exec: mlflow becomes PID 1 and gets docker stop's SIGTERM itself.
exec "$@"
