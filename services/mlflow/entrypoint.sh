#!/bin/sh
# Start the MLflow server from environment variables (set by docker-compose.yml):
#   MLFLOW_BACKEND_STORE_URI      postgresql://user:password@postgres:5432/mlflow   (required)
#   MLFLOW_ARTIFACTS_DESTINATION  s3://bucket/mlflow                                (required)
#   MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY                (MinIO)
#   MLFLOW_ALLOWED_HOSTS          hosts clients may use, e.g. mlflow,mlflow:5000   (else 403 on Host: mlflow:5000)
#   MLFLOW_HOST (0.0.0.0), MLFLOW_PORT (5000), MLFLOW_WORKERS (2)
# Behind MLflow's basic-auth app (--app-name basic-auth) when MLFLOW_AUTH_ADMIN_PASSWORD is set, as compose and
# Kubernetes do (tests/test_deploy_contract.py): every API call needs a user and password, /health does not.
#   MLFLOW_AUTH_ADMIN_USERNAME, MLFLOW_AUTH_ADMIN_PASSWORD  the admin MLflow creates on first start
#   MLFLOW_FLASK_SERVER_SECRET_KEY  signs the auth app's sessions, the same in every worker (required with auth)
#   MLFLOW_AUTH_DATABASE_URI        users and permissions (default: the backend store's database; the auth tables
#                                   keep their own migration table, alembic_version_auth)
# Clients (trainer, model-api, bootstrap) send MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD. The image needs
# mlflow[auth] (Flask-WTF) for the auth app.
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

if [ -n "${MLFLOW_AUTH_ADMIN_PASSWORD:-}" ]; then
    : "${MLFLOW_AUTH_ADMIN_USERNAME:?set MLFLOW_AUTH_ADMIN_USERNAME (MLflow's admin user)}"
    : "${MLFLOW_FLASK_SERVER_SECRET_KEY:?set MLFLOW_FLASK_SERVER_SECRET_KEY (a random string)}"
    auth_database="${MLFLOW_AUTH_DATABASE_URI:-$MLFLOW_BACKEND_STORE_URI}"
    case "$auth_database" in
        postgresql://*) auth_database="postgresql+psycopg2://${auth_database#postgresql://}" ;;
    esac
    # The auth app's configuration holds the database URI: only this user reads it. The admin's name and password
    # come from the environment, which takes precedence over the file.
    MLFLOW_AUTH_CONFIG_PATH="${MLFLOW_AUTH_CONFIG_PATH:-$(mktemp -d)/basic_auth.ini}"
    export MLFLOW_AUTH_CONFIG_PATH
    (umask 077 && cat > "$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = READ
database_uri = $auth_database
admin_username = $MLFLOW_AUTH_ADMIN_USERNAME
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    )
    set -- "$@" --app-name basic-auth
else
    echo "mlflow-entrypoint: MLFLOW_AUTH_ADMIN_PASSWORD is not set: MLflow runs WITHOUT authentication" >&2
fi
if [ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]; then
    set -- "$@" --allowed-hosts "$MLFLOW_ALLOWED_HOSTS"
fi
# exec: mlflow becomes PID 1 and gets docker stop's SIGTERM itself.
exec "$@"
