"""The core package's folders are layers: a module imports only from its own layer and the layers below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "scoreline"
# Lowest first. tasks may use core only; data stores tasks' canonical tables; ml trains tasks; lifecycle registers
# and promotes what ml trains; predlog, serving and monitoring sit on top; the cli may use everything.
LAYERS = ("core", "tasks", "data", "ml", "lifecycle", "predlog", "serving", "monitoring", "cli")


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "scoreline" and parts[1] in LAYERS else None


def imports_of(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_every_module_sits_in_a_layer() -> None:
    loose = [p.name for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside a layer folder: {loose}"
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders <= set(LAYERS)


def test_imports_run_one_way_between_layers() -> None:
    wrong = []
    for path in ROOT.rglob("*.py"):
        own = path.relative_to(ROOT).parts[0]
        if own not in LAYERS:
            continue
        for module in imports_of(path):
            target = layer_of(module)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_nothing_outside_the_task_folders_names_a_task() -> None:
    named = []
    for path in ROOT.rglob("*.py"):
        if path.relative_to(ROOT).parts[0] == "tasks":
            continue
        text = path.read_text(encoding="utf-8")
        for word in ("match_outcome", "esports_win", "player_investment", "event_traffic", "home_score"):
            if word in text:
                named.append(f"{path.relative_to(ROOT)}: {word}")
    assert named == []
