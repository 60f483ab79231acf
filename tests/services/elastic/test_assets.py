"""Static checks of services/elastic: templates match the code, saved objects refer to what exists."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from scoreline.monitoring import indices
from tests.servers import REPO

ELASTIC = REPO / "services" / "elastic"
NDJSON = ELASTIC / "kibana" / "saved_objects.ndjson"


def saved_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]


def test_template_files_are_the_ones_the_code_installs(tmp_path: Path) -> None:
    exported = {path.name: json.loads(path.read_text()) for path in indices.export(tmp_path)}
    shipped = {path.name: json.loads(path.read_text()) for path in (ELASTIC / "templates").glob("*.json")}
    assert shipped == exported


def test_saved_objects_file_is_what_the_generator_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_saved_objects", ELASTIC / "kibana" / "build_saved_objects.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert saved_objects() == json.loads(json.dumps(module.saved_objects()))


def test_saved_objects_parse_and_have_unique_ids() -> None:
    objects = saved_objects()
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))
    views = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert views == {"scoreline-predictions-*", "scoreline-drift", "scoreline-outcomes"}


def data_view_fields(view: dict[str, Any]) -> set[str]:
    pattern = view["attributes"]["title"]
    templates = [t for t in indices.TEMPLATES.values() if any(fnmatch.fnmatch(pattern, p) for p in t["index_patterns"])]
    assert len(templates) == 1, f"data view {pattern} matches {len(templates)} templates"
    runtime = json.loads(view["attributes"].get("runtimeFieldMap") or "{}")
    return indices.template_fields(templates[0]) | set(runtime)


def lens_fields(vis: dict[str, Any]) -> dict[str, set[str]]:
    """Fields used per datasource layer."""
    used: dict[str, set[str]] = {}
    for layer_id, layer in vis["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].items():
        fields = used.setdefault(layer_id, set())
        for column in layer["columns"].values():
            if column.get("sourceField") and column["sourceField"] != "___records___":
                fields.add(column["sourceField"])
            fields.update(column.get("params", {}).get("secondaryFields", []))
    return used


@pytest.mark.parametrize("vis", [o for o in saved_objects() if o["type"] == "lens"], ids=lambda o: o["id"])
def test_every_visualization_uses_an_existing_data_view_and_mapped_fields(vis: dict[str, Any]) -> None:
    views = {o["id"]: o for o in saved_objects() if o["type"] == "index-pattern"}
    by_layer = {ref["name"].removeprefix("indexpattern-datasource-layer-"): ref["id"] for ref in vis["references"]}
    for layer_id, fields in lens_fields(vis).items():
        assert layer_id in by_layer, f"layer {layer_id} has no data view reference"
        assert by_layer[layer_id] in views, f"layer {layer_id} refers to missing data view {by_layer[layer_id]}"
        missing = fields - data_view_fields(views[by_layer[layer_id]])
        assert not missing, f"{vis['id']} uses fields not in the template: {missing}"
    accessors = {a for layer in vis["attributes"]["state"]["visualization"]["layers"] for a in layer["accessors"]}
    columns = {
        c
        for layer in vis["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
        for c in layer["columns"]
    }
    assert accessors <= columns


def test_the_dashboard_has_every_panel_and_they_exist() -> None:
    objects = saved_objects()
    lens_ids = {o["id"] for o in objects if o["type"] == "lens"}
    (board,) = [o for o in objects if o["type"] == "dashboard"]
    assert board["attributes"]["title"] == "Scoreline — predictions, drift and accuracy"
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {ref["name"]: ref["id"] for ref in board["references"]}
    assert {refs[p["panelRefName"]] for p in panels} == lens_ids
    titles = " | ".join(o["attributes"]["title"].lower() for o in objects if o["type"] == "lens")
    for wanted in ("per minute", "p99", "teams", "hour of day", "psi", "holdout"):
        assert wanted in titles
