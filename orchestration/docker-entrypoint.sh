#!/usr/bin/env bash
# Gives the simple auth manager the admin password from the environment, then runs the official entrypoint.
set -euo pipefail
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD}"
users="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:?set AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS}"
passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-/opt/airflow/simple_auth_passwords.json}"
admin_user="${users%%:*}"
python - "$passwords_file" "$admin_user" <<'PY'
import json, os, sys
path, user = sys.argv[1], sys.argv[2]
with open(path, "w") as handle:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
os.chmod(path, 0o600)
PY
exec /entrypoint "$@"
