"""Index templates and the lifecycle policy of the three Scoreline indices, and their installer.

This module is the single source of the mappings; ``services/elastic/templates/*.json`` are exported
from it (``scoreline monitor export-templates``) for the compose setup step, and a test keeps the two
in step.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREDICTIONS_PATTERN = "scoreline-predictions-*"
DRIFT_INDEX = "scoreline-drift"
OUTCOMES_INDEX = "scoreline-outcomes"
REPLAYS_INDEX = "scoreline-replays"  # ``scoreline replay``'s progress, one document per replay
LIFECYCLE_POLICY = "scoreline-predictions"
TEMPLATE_VERSION = 1

_KEYWORD = {"type": "keyword"}
_DOUBLE = {"type": "double"}
_DATE = {"type": "date"}

PREDICTIONS_TEMPLATE: dict[str, Any] = {
    "index_patterns": [PREDICTIONS_PATTERN],
    "priority": 200,
    "version": TEMPLATE_VERSION,
    "_meta": {"owner": "scoreline", "doc": "one document per predicted instance; _id = request_id"},
    "template": {
        "settings": {"number_of_shards": 1, "index.lifecycle.name": LIFECYCLE_POLICY},
        "mappings": {
            "dynamic": True,
            "dynamic_templates": [
                {"inputs_as_keywords": {"path_match": "inputs.*", "mapping": {"type": "keyword", "ignore_above": 256}}},
                {"features_as_numbers": {"path_match": "features.*", "mapping": _DOUBLE}},
                {"probabilities_as_numbers": {"path_match": "probabilities.*", "mapping": _DOUBLE}},
            ],
            "properties": {
                "@timestamp": _DATE,
                "request_id": _KEYWORD,
                "task": _KEYWORD,
                "model_name": _KEYWORD,
                "model_version": _KEYWORD,
                "inputs": {"type": "object", "dynamic": True},
                "features": {"type": "object", "dynamic": True},
                "prediction": _KEYWORD,
                "probabilities": {"type": "object", "dynamic": True},
                "latency_ms": _DOUBLE,
            },
        },
    },
}

DRIFT_TEMPLATE: dict[str, Any] = {
    "index_patterns": [DRIFT_INDEX],
    "priority": 200,
    "version": TEMPLATE_VERSION,
    "_meta": {"owner": "scoreline", "doc": "one document per task, feature and monitoring run"},
    "template": {
        "settings": {"number_of_shards": 1},
        "mappings": {
            "dynamic": False,
            "properties": {
                "@timestamp": _DATE,
                "run_id": _KEYWORD,
                "task": _KEYWORD,
                "model_version": _KEYWORD,
                "feature": _KEYWORD,
                "kind": _KEYWORD,  # numeric / categorical / prediction
                "psi": _DOUBLE,
                "statistic": _DOUBLE,
                "statistic_name": _KEYWORD,
                "p_value": _DOUBLE,
                "status": _KEYWORD,  # ok / warn / alert
                "psi_alert_threshold": _DOUBLE,
                "psi_warn_threshold": _DOUBLE,
                "rows": {"type": "long"},
                "window": {
                    "properties": {"start": _DATE, "end": _DATE, "rows": {"type": "long"}},
                },
            },
        },
    },
}

OUTCOMES_TEMPLATE: dict[str, Any] = {
    "index_patterns": [OUTCOMES_INDEX],
    "priority": 200,
    "version": TEMPLATE_VERSION,
    "_meta": {"owner": "scoreline", "doc": "kind=prediction: one per joined prediction (_id = request_id); kind=daily"},
    "template": {
        "settings": {"number_of_shards": 1},
        "mappings": {
            "dynamic": False,
            "properties": {
                "@timestamp": _DATE,
                "kind": _KEYWORD,  # prediction / daily
                "request_id": _KEYWORD,
                "task": _KEYWORD,
                "model_version": _KEYWORD,
                "day": _DATE,
                "match_date": _DATE,
                "home_team": _KEYWORD,
                "away_team": _KEYWORD,
                "prediction": _KEYWORD,
                "outcome": _KEYWORD,
                "correct": {"type": "boolean"},
                "accuracy": _DOUBLE,
                "log_loss": _DOUBLE,
                "rps": _DOUBLE,
                "brier": _DOUBLE,
                "count": {"type": "long"},
                "holdout_log_loss": _DOUBLE,
                "holdout_rps": _DOUBLE,
                "holdout_accuracy": _DOUBLE,
            },
        },
    },
}

TEMPLATES: dict[str, dict[str, Any]] = {
    "scoreline-predictions": PREDICTIONS_TEMPLATE,
    "scoreline-drift": DRIFT_TEMPLATE,
    "scoreline-outcomes": OUTCOMES_TEMPLATE,
}

PREDICTIONS_POLICY: dict[str, Any] = {
    "phases": {
        "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
        "warm": {"min_age": "7d", "actions": {"set_priority": {"priority": 50}, "forcemerge": {"max_num_segments": 1}}},
        "delete": {"min_age": "90d", "actions": {"delete": {}}},
    },
    "_meta": {"owner": "scoreline", "doc": "daily prediction indices: kept 90 days"},
}


def template_fields(template: dict[str, Any]) -> set[str]:
    """Dotted field names a template maps explicitly (object parents excluded)."""
    fields: set[str] = set()

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            if spec.get("type", "object") != "object" or "properties" not in spec:
                fields.add(path)

    walk(template["template"]["mappings"]["properties"], "")
    return fields


def install(client: Any) -> dict[str, str]:
    """Install the lifecycle policy and the three templates, and create the two fixed indices.

    Idempotent: an existing template with the same version is left alone. A server without ILM
    (e.g. OpenSearch) gets the templates without the lifecycle setting. Returns what was done per item.
    """
    from elastic_transport import ApiError

    done: dict[str, str] = {}
    ilm = True
    try:
        client.ilm.put_lifecycle(name=LIFECYCLE_POLICY, policy=PREDICTIONS_POLICY)
        done[f"ilm/{LIFECYCLE_POLICY}"] = "put"
    except ApiError as error:
        ilm = False
        done[f"ilm/{LIFECYCLE_POLICY}"] = f"unsupported ({error.meta.status})"
        log.warning("no index lifecycle management on this server; predictions are kept until deleted: %s", error)
    for name, template in TEMPLATES.items():
        body = json.loads(json.dumps(template))
        if not ilm:
            body["template"]["settings"].pop("index.lifecycle.name", None)
        current = _installed_version(client, name)
        if current == template["version"]:
            done[f"template/{name}"] = "unchanged"
            continue
        client.indices.put_index_template(name=name, **body)
        done[f"template/{name}"] = "put"
    for index in (DRIFT_INDEX, OUTCOMES_INDEX):
        if client.indices.exists(index=index):
            done[f"index/{index}"] = "exists"
            continue
        try:
            client.indices.create(index=index)
            done[f"index/{index}"] = "created"
        except ApiError as error:
            if error.meta.status != 400 or "already_exists" not in str(error):
                raise
            done[f"index/{index}"] = "exists"
    return done


def _installed_version(client: Any, name: str) -> int | None:
    from elastic_transport import ApiError

    try:
        found = client.indices.get_index_template(name=name).body
    except ApiError as error:
        if error.meta.status == 404:
            return None
        raise
    for item in found.get("index_templates", []):
        if item.get("name") == name:
            return item["index_template"].get("version")
    return None


def export(directory: Path) -> list[Path]:
    """Write the templates and the lifecycle policy as JSON files (for services/elastic)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, template in TEMPLATES.items():
        path = directory / f"{name}.template.json"
        path.write_text(json.dumps(template, indent=2) + "\n")
        written.append(path)
    policy = directory / f"{LIFECYCLE_POLICY}.ilm.json"
    policy.write_text(json.dumps({"policy": PREDICTIONS_POLICY}, indent=2) + "\n")
    written.append(policy)
    return written


def install_with_retries(client: Any, attempts: int = 60, wait_s: float = 5.0) -> dict[str, str] | None:
    """``install``, retried while Elasticsearch is down (services call it on a background thread at startup,
    so an outage at start stops nothing); None when every attempt failed."""
    import time

    for attempt in range(attempts):
        try:
            done = install(client)
            log.info("Elasticsearch templates: %s", done)
            return done
        except Exception as error:  # any failure: try again later
            log.warning("installing Elasticsearch templates failed (attempt %d): %s", attempt + 1, error)
            time.sleep(wait_s)
    return None
