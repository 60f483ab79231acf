#!/usr/bin/env bash
# Idempotent one-shot setup: kibana_system password, lifecycle policy, index templates, the two fixed
# indices, and Kibana's saved objects (data views, visualizations, dashboard; imported with overwrite).
# Needs ELASTICSEARCH_URL, KIBANA_URL, ELASTIC_PASSWORD, KIBANA_SYSTEM_PASSWORD.
set -euo pipefail
: "${ELASTICSEARCH_URL:?}" "${KIBANA_URL:?}" "${ELASTIC_PASSWORD:?}" "${KIBANA_SYSTEM_PASSWORD:?}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TEMPLATES="${TEMPLATES_DIR:-$HERE/templates}"
SAVED_OBJECTS="${SAVED_OBJECTS:-$HERE/kibana/saved_objects.ndjson}"

es() {  # es METHOD PATH [JSON-FILE]
  local args=(-sS --fail-with-body -u "elastic:${ELASTIC_PASSWORD}" -X "$1" "${ELASTICSEARCH_URL}$2" -H 'Content-Type: application/json')
  if [[ $# -ge 3 ]]; then args+=(--data-binary "@$3"); fi
  curl "${args[@]}"
  echo
}

wait_for() {  # wait_for WHAT COMMAND...
  local what="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 5
  done
  echo "gave up waiting for ${what}" >&2
  return 1
}

wait_for Elasticsearch curl -sf -u "elastic:${ELASTIC_PASSWORD}" "${ELASTICSEARCH_URL}/_cluster/health"

echo "== kibana_system password"
printf '{"password":"%s"}' "${KIBANA_SYSTEM_PASSWORD}" > /tmp/kibana_system.json
es POST /_security/user/kibana_system/_password /tmp/kibana_system.json
rm -f /tmp/kibana_system.json

echo "== lifecycle policy"
for policy in "$TEMPLATES"/*.ilm.json; do
  es PUT "/_ilm/policy/$(basename "$policy" .ilm.json)" "$policy"
done

echo "== index templates"
for template in "$TEMPLATES"/*.template.json; do
  es PUT "/_index_template/$(basename "$template" .template.json)" "$template"
done

echo "== fixed indices"
for index in scoreline-drift scoreline-outcomes; do
  if ! curl -sf -o /dev/null -u "elastic:${ELASTIC_PASSWORD}" -I "${ELASTICSEARCH_URL}/${index}"; then
    es PUT "/${index}"
  fi
done

echo "== Kibana saved objects"
wait_for Kibana bash -c "curl -sf -u 'elastic:${ELASTIC_PASSWORD}' '${KIBANA_URL}/api/status' | grep -q '\"level\":\"available\"'"
curl -sS --fail-with-body -u "elastic:${ELASTIC_PASSWORD}" -H 'kbn-xsrf: scoreline-setup' \
  -X POST "${KIBANA_URL}/api/saved_objects/_import?overwrite=true" --form "file=@${SAVED_OBJECTS}"
echo
echo "setup done"
