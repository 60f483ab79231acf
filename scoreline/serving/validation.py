"""Request validation for serving: every problem becomes a 422 naming the row, the field and what
was expected (never a 500).

Two layers: the task's pydantic request model (missing fields, wrong types, unknown fields), then
checks against the served model's state (an unknown entity of the task, e.g. a team, with the
closest known names; fields that must differ, e.g. a team playing itself; NaN or infinite
numbers). Batch files get the same checks column by column.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, get_args, get_origin

import annotated_types
import numpy as np
import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.base import Task

MAX_PROBLEMS = 50
Problem = dict[str, Any]


class Problems(list[Problem]):
    """The first ``MAX_PROBLEMS`` problems (the list) and how many there were in all (``total``): rows past the
    report are counted from their masks, never turned into entries."""

    def __init__(self, items: Sequence[Problem] = (), total: int | None = None) -> None:
        super().__init__(list(items[:MAX_PROBLEMS]))
        self.total = len(items) if total is None else total

    @property
    def full(self) -> bool:
        return len(self) >= MAX_PROBLEMS

    def merge(self, other: Sequence[Problem]) -> None:
        self.extend(other[: max(MAX_PROBLEMS - len(self), 0)])
        self.total += getattr(other, "total", len(other))


def _invalid(problems: Sequence[Problem], what: str = "instance") -> ScorelineError:
    first = problems[0]
    total = getattr(problems, "total", len(problems))
    where = f"row {first['row']}, " if first.get("row") is not None else ""
    message = f"invalid {what}: {where}{first['field']}: {first['message']}"
    if first.get("expected"):
        message += f"; expected {first['expected']}"
    if total > 1:
        message += f" (and {total - 1} more problem(s), see details)"
    return ScorelineError(ErrorCode.INVALID_INPUT, message, {"problems": list(problems[:MAX_PROBLEMS]), "count": total})


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, date):
        return value.isoformat()
    return type(value).__name__  # never repr(): a container may be huge or nested past the recursion limit


# ---- the request body ----------------------------------------------------------------------
def instances_of(body: Any, max_instances: int) -> list[Any]:
    """The instances of a ``{"instances": [...] | {...}}`` body, or a 422/413 saying what was expected."""
    if not isinstance(body, Mapping) or "instances" not in body:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            'invalid request: instances: field required; expected a JSON object {"instances": [ {...}, ... ]}',
            {"problems": [{"row": None, "field": "instances", "message": "field required"}], "count": 1},
        )
    extra = sorted(set(body) - {"instances"})
    if extra:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid request: unknown top-level field(s) {extra}; expected only 'instances'",
            {"problems": [{"row": None, "field": name, "message": "unknown field"} for name in extra]},
        )
    instances = body["instances"]
    if isinstance(instances, Mapping):
        instances = [instances]
    if not isinstance(instances, list) or not instances:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            "invalid request: instances: expected one instance object or a non-empty list of them",
            {"problems": [{"row": None, "field": "instances", "message": f"got {type(instances).__name__}"}]},
        )
    if len(instances) > max_instances:
        raise ScorelineError(
            ErrorCode.TOO_LARGE,
            f"{len(instances)} instances in one request; at most {max_instances} "
            "(send more requests, or a file to /predict/batch)",
            {"count": len(instances), "limit": max_instances},
        )
    return instances


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[BaseModel]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


_STR, _BOOL, _INT, _FLOAT, _DATE = range(5)
_KINDS = {str: _STR, bool: _BOOL, int: _INT, float: _FLOAT, date: _DATE}
_BOUNDS = (annotated_types.MinLen, annotated_types.MaxLen, annotated_types.Ge, annotated_types.Gt,
           annotated_types.Le, annotated_types.Lt)  # fmt: skip
_CONFIG_KEYS = {"extra", "str_strip_whitespace", "title"}


class PlainInstances:
    """The request model's answer for instances that are plainly valid, without pydantic.

    For a model of plain fields only (str, bool, int, float, date, each optionally None, with length and
    bound constraints, JSON-scalar defaults, no aliases, validators or coercion settings), an instance whose
    every value already has the field's exact JSON type, passes its constraints and needs no coercion
    (no whitespace to strip, a date as ``YYYY-MM-DD``) is dumped here, field by field, exactly as pydantic's
    JSON mode would. Anything else (a wrong type, a missing field, ``"1"`` for a bool) returns None and goes
    through pydantic, which accepts it or says what was wrong: the 422 contract stays pydantic's.
    """

    def __init__(self, fields: list[tuple[str, int, bool, bool, Any, tuple[Any, ...]]], strip: bool) -> None:
        self.fields = fields  # (name, kind, nullable, required, default, bounds)
        self.names = frozenset(name for name, *_ in fields)
        self.strip = strip

    @classmethod
    def of(cls, model: type[BaseModel]) -> PlainInstances | None:
        config = dict(model.model_config)
        if config.get("extra") != "forbid" or set(config) - _CONFIG_KEYS:
            return None
        decorators = model.__pydantic_decorators__
        if any(
            (decorators.validators, decorators.field_validators, decorators.root_validators,
             decorators.model_validators, decorators.computed_fields, decorators.field_serializers,
             decorators.model_serializers)
        ):  # fmt: skip
            return None
        fields = []
        for name, info in model.model_fields.items():
            if info.alias is not None or info.validation_alias is not None or info.default_factory is not None:
                return None
            annotation, nullable = info.annotation, False
            if get_origin(annotation) is not None:
                args = get_args(annotation)
                if type(None) not in args or len(args) != 2:
                    return None
                annotation, nullable = next(a for a in args if a is not type(None)), True
            kind = _KINDS.get(annotation)  # type: ignore[arg-type]
            if kind is None or any(not isinstance(m, _BOUNDS) for m in info.metadata):
                return None
            default = None if info.is_required() else info.default
            if default is not None and type(default) not in (str, bool, int, float):
                return None
            fields.append((name, kind, nullable, info.is_required(), default, tuple(info.metadata)))
        return cls(fields, bool(config.get("str_strip_whitespace")))

    def dump(self, instances: list[Any]) -> list[dict[str, Any]] | None:
        rows = []
        for instance in instances:
            if type(instance) is not dict or not self.names.issuperset(instance):
                return None
            row: dict[str, Any] = {}
            for name, kind, nullable, required, default, bounds in self.fields:
                if name not in instance:
                    if required:
                        return None
                    row[name] = default
                    continue
                value = instance[name]
                if value is None:
                    if not nullable:
                        return None
                elif not _plain(value, kind, bounds, self.strip):
                    return None
                row[name] = float(value) if kind == _FLOAT and value is not None else value
            rows.append(row)
        return rows


def _plain(value: Any, kind: int, bounds: tuple[Any, ...], strip: bool) -> bool:
    """``value`` has exactly the JSON type of a field of ``kind`` and passes its ``bounds`` as it is."""
    if kind == _STR:
        if type(value) is not str or (strip and value != value.strip()):
            return False
        size = len(value)
        for bound in bounds:
            if isinstance(bound, annotated_types.MinLen) and size < bound.min_length:
                return False
            if isinstance(bound, annotated_types.MaxLen) and size > bound.max_length:
                return False
        return True
    if kind == _BOOL:
        return type(value) is bool
    if kind == _DATE:
        if type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-":
            return False
        try:
            return date.fromisoformat(value).isoformat() == value
        except ValueError:
            return False
    if type(value) is int:
        if kind == _FLOAT and abs(value) > 2**53:  # pydantic's float of it may round or overflow
            return False
    elif kind == _INT or type(value) is not float or not math.isfinite(value):
        return False
    for bound in bounds:
        if isinstance(bound, annotated_types.Ge) and not value >= bound.ge:
            return False
        if isinstance(bound, annotated_types.Gt) and not value > bound.gt:
            return False
        if isinstance(bound, annotated_types.Le) and not value <= bound.le:
            return False
        if isinstance(bound, annotated_types.Lt) and not value < bound.lt:
            return False
    return True


@cache
def _plain_instances(model: type[BaseModel]) -> PlainInstances | None:
    return PlainInstances.of(model)


def validate_instances(model: type[BaseModel], instances: list[Any]) -> list[dict[str, Any]]:
    """Instances checked against the task's request model, as JSON-mode dicts (with defaults)."""
    plain = _plain_instances(model)
    if plain is not None:
        rows = plain.dump(instances)
        if rows is not None:
            return rows
    try:
        parsed = _list_adapter(model).validate_python(instances)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err.get("loc", ()))
            row = loc.pop(0) if loc and isinstance(loc[0], int) else None
            field_name = ".".join(str(part) for part in loc) or "instance"
            problems.append(
                {
                    "row": row,
                    "field": field_name,
                    "message": err.get("msg", "invalid"),
                    "expected": _expected_for(model, field_name, err.get("type", "")),
                    "input": _jsonable(err.get("input")) if err.get("type") != "missing" else None,
                }
            )
        raise _invalid(problems) from exc
    rows: list[dict[str, Any]] = _list_adapter(model).dump_python(parsed, mode="json")  # one call for the list
    problems = [
        {"row": i, "field": name, "message": f"{value} is not a finite number", "expected": "a finite number"}
        for i, item in enumerate(parsed)
        for name, value in item.__dict__.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
    if problems:
        raise _invalid(problems)
    return rows


def _expected_for(model: type[BaseModel], field_name: str, error_type: str) -> str | None:
    info = model.model_fields.get(field_name)
    if info is None:
        return f"only the fields {', '.join(model.model_fields)}" if error_type == "extra_forbidden" else None
    return _describe_type(info.annotation)


def _describe_type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is not None and type(None) in get_args(annotation):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return f"{_describe_type(inner[0])} or null" if len(inner) == 1 else str(annotation)
    names = {str: "a string", int: "an integer", float: "a finite number", bool: "true or false"}
    if annotation in names:
        return names[annotation]
    if annotation is date:
        return "a date YYYY-MM-DD"
    if annotation is datetime:
        return "an ISO 8601 date-time"
    return getattr(annotation, "__name__", str(annotation))


# ---- checks against the served model's state ------------------------------------------------
def closest(name: str, known: Sequence[str], n: int = 3) -> list[str]:
    matches = difflib.get_close_matches(name, known, n=n, cutoff=0.6)
    if len(matches) < n:
        lowered = name.lower()
        matches += [k for k in known if lowered and lowered in k.lower() and k not in matches][: n - len(matches)]
    return matches


class EntityIndex:
    """The names a served model knows, per entity field of its task, with closest-name suggestions.

    Built once per served version from the task's ``entity_fields`` and the version's serving state;
    also checks the task's ``distinct_fields`` (e.g. a team cannot play itself).
    """

    def __init__(self, task: Task, state: Mapping[str, Any]) -> None:
        self.task_id = task.id
        self.fields = {entity.field: entity for entity in task.entity_fields}
        self.names: dict[str, list[str]] = task.entities(state)
        self._known = {name: frozenset(values) for name, values in self.names.items()}
        self.distinct = tuple(task.distinct_fields)

    @property
    def empty(self) -> bool:
        return not self.fields and not self.distinct

    def problems(self, rows: Sequence[Mapping[str, Any]]) -> list[Problem]:
        found: list[Problem] = []
        for i, row in enumerate(rows):
            for field_name, known in self._known.items():
                name = row.get(field_name)
                if name is not None and name not in known:
                    found.append(self._unknown(i, field_name, name))
            for first, second in self.distinct:
                value = row.get(first)
                if value is not None and value == row.get(second):
                    found.append(self._same(i, first, second, value))
        return found

    def _unknown(self, row: int | None, field_name: str, name: Any) -> Problem:
        noun = self.fields[field_name].noun
        suggestions = closest(str(name), self.names[field_name])
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        return {
            "row": row,
            "field": field_name,
            "message": f"unknown {noun} {name!r}{hint}",
            "expected": f"a {noun} the model knows (GET /v1/{self.task_id}/schema lists them)",
            "input": _jsonable(name),
            "closest": suggestions,
        }

    def _same(self, row: int, first: str, second: str, value: Any) -> Problem:
        return {
            "row": row,
            "field": second,
            "message": f"{value!r} is both the {first} and the {second}",
            "expected": f"a {second} other than the {first} {value!r}",
            "input": _jsonable(value),
        }

    def frame_problems(self, frame: pd.DataFrame) -> Problems:
        found = Problems()
        for field_name, known_names in self._known.items():
            if field_name not in frame.columns:
                continue
            values = frame[field_name]
            if isinstance(values.dtype, pd.CategoricalDtype):  # each distinct name once; missing is unknown
                known = values.cat.categories.isin(known_names)
                unknown = ~np.append(known, False)[values.cat.codes.to_numpy()]
            else:
                unknown = ~values.isin(known_names).to_numpy()
            rows = np.flatnonzero(unknown)
            found.merge(
                Problems(
                    [self._unknown(r, field_name, values.iloc[r]) for r in rows[:MAX_PROBLEMS].tolist()], len(rows)
                )
            )
        for first, second in self.distinct:
            if first not in frame.columns or second not in frame.columns:
                continue
            same = _same_values(frame[first], frame[second])
            rows = np.flatnonzero(same)
            found.merge(
                Problems(
                    [self._same(r, first, second, frame[first].iloc[r]) for r in rows[:MAX_PROBLEMS].tolist()],
                    len(rows),
                )
            )
        return found


def _same_values(first: pd.Series, second: pd.Series) -> np.ndarray:
    """Row mask of ``first == second`` (missing never equal); categoricals compared by their codes."""
    if isinstance(first.dtype, pd.CategoricalDtype) and isinstance(second.dtype, pd.CategoricalDtype):
        # ``==`` refuses categoricals with different categories; map the second's codes into the first's.
        second_in_first = np.append(first.cat.categories.get_indexer(second.cat.categories), -1)
        first_codes = first.cat.codes.to_numpy()
        return (first_codes >= 0) & (second_in_first[second.cat.codes.to_numpy()] == first_codes)
    return (first == second).to_numpy(dtype=bool, na_value=False)


def check_entities(entities: EntityIndex | None, rows: Sequence[Mapping[str, Any]]) -> None:
    if entities is None or entities.empty:
        return
    problems = entities.problems(rows)
    if problems:
        raise _invalid(problems)


# ---- batch files ----------------------------------------------------------------------------
def validate_frame(model: type[BaseModel], frame: pd.DataFrame, entities: EntityIndex | None) -> pd.DataFrame:
    """A batch table checked column by column (vectorized), converted to the request types."""
    if frame.empty:
        raise ScorelineError(ErrorCode.INVALID_INPUT, "the file has no rows; expected at least one row to predict")
    fields = model.model_fields
    missing = [name for name, info in fields.items() if info.is_required() and name not in frame.columns]
    problems = Problems(
        [
            {
                "row": None,
                "field": name,
                "message": "column missing",
                "expected": f"a column {name!r} ({_describe_type(fields[name].annotation)})",
            }
            for name in missing
        ]
    )
    if problems:
        raise _invalid(problems, "file")
    frame = frame.reset_index(drop=True)
    columns: dict[str, pd.Series] = {}
    for name, info in fields.items():
        if name not in frame.columns:
            continue
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        column, column_problems = _convert_column(
            frame[name], name, info.annotation, info.is_required(), default, info.metadata
        )
        problems.merge(column_problems)
        columns[name] = column
    if problems:
        raise _invalid(problems, "file")
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), copy=False)
    if entities is not None and not entities.empty:
        problems = entities.frame_problems(out)
        if problems:
            raise _invalid(problems, "file")
    return out


def text_columns(model: type[BaseModel]) -> frozenset[str]:
    """The fields :func:`validate_frame` converts per distinct value (text, booleans, dates)."""
    fields = model.model_fields
    return frozenset(name for name, info in fields.items() if _base_type(info.annotation) in (str, bool, date))


def _base_type(annotation: Any) -> Any:
    optional = get_origin(annotation) is not None and type(None) in get_args(annotation)
    return next((a for a in get_args(annotation) if a is not type(None)), annotation) if optional else annotation


def _convert_column(
    values: pd.Series, name: str, annotation: Any, required: bool, default: Any, metadata: Sequence[Any] = ()
) -> tuple[pd.Series, Problems]:
    base = _base_type(annotation)
    expected = _describe_type(base)
    fill = default.isoformat() if isinstance(default, date) else default
    if base in (str, bool, date):
        return _convert_text(values, name, base, expected, required, fill)
    problems = Problems()
    null = values.isna().to_numpy().copy()
    if base in (float, int):
        result = pd.to_numeric(values, errors="coerce")
        numbers = result.to_numpy(dtype=float, na_value=np.nan)
        outside, within = _outside_bounds(numbers, metadata)
        if within:  # the request model's bounds, as a JSON instance is held to them
            expected = f"{expected} {within}"
        bad = result.isna().to_numpy() & ~null
        problems.merge(_rows(bad | np.isinf(numbers) | outside, values, name, expected))
    else:
        result = values
    if null.any():
        if required:
            problems.merge(_rows(null, values, name, expected, message="empty cell"))
        else:
            result = result.astype(object).where(~pd.Series(null, index=result.index), fill)
    return result, problems


def _outside_bounds(numbers: np.ndarray, metadata: Sequence[Any]) -> tuple[np.ndarray, str]:
    """Row mask of ``numbers`` outside a field's ``ge``/``gt``/``le``/``lt`` bounds (missing is never outside),
    and the bounds in words (">= 0 and <= 200")."""
    outside = np.zeros(len(numbers), dtype=bool)
    words = []
    with np.errstate(invalid="ignore"):
        for bound in metadata:
            if isinstance(bound, annotated_types.Ge):
                outside |= numbers < bound.ge
                words.append(f">= {_number(bound.ge)}")
            elif isinstance(bound, annotated_types.Gt):
                outside |= numbers <= bound.gt
                words.append(f"> {_number(bound.gt)}")
            elif isinstance(bound, annotated_types.Le):
                outside |= numbers > bound.le
                words.append(f"<= {_number(bound.le)}")
            elif isinstance(bound, annotated_types.Lt):
                outside |= numbers >= bound.lt
                words.append(f"< {_number(bound.lt)}")
    return outside, " and ".join(words)


def _number(value: Any) -> str:
    """A bound as written in a schema: 48.0 as 48."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _convert_text(
    values: pd.Series, name: str, base: Any, expected: str, required: bool, fill: Any
) -> tuple[pd.Series, Problems]:
    """A text-like column (str, bool, date) as a categorical of converted values (missing: ``fill``).

    These columns hold few distinct values (team names, competitions, dates): each distinct value is
    converted once, and the rows keep codes, so later steps can also work per distinct value.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    converted, empty, bad_distinct = _convert_distinct(pd.Series(uniques), base)
    # One slot per distinct value, then one for missing cells (code -1 picks the last slot).
    null_distinct = np.append(empty, True)
    problems = Problems()
    if bad_distinct.any():
        problems.merge(_rows(np.append(bad_distinct, False)[codes], values, name, expected))
    if required and (empty.any() or codes.min(initial=0) < 0):
        problems.merge(_rows(null_distinct[codes], values, name, expected, message="empty cell"))
    if problems:
        return values, problems
    slots = np.append(converted, None)
    slots[null_distinct] = fill
    # Stripping can merge distinct raw values ("Brazil " and "Brazil"): factorize the converted ones again.
    slot_codes, categories = pd.factorize(slots, use_na_sentinel=True)
    column = pd.Categorical.from_codes(slot_codes[codes], categories=pd.Index(categories, dtype=object), validate=False)
    return pd.Series(column, index=values.index), problems


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "1.0": True, "0.0": False}


def _convert_distinct(distinct: pd.Series, base: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(converted values as an object array, empty mask, unconvertible mask) of a column's non-null distinct values."""
    none = np.zeros(len(distinct), dtype=bool)
    distinct, undecodable = _decoded(distinct)
    if base is str:
        converted = distinct.astype("string").str.strip()
        empty = (converted == "").fillna(True).to_numpy(dtype=bool) & ~undecodable
        return converted.to_numpy(dtype=object), empty, undecodable
    if base is bool:
        mapped = distinct.astype("string").str.strip().str.lower().map(_BOOLEANS)
        return mapped.to_numpy(dtype=object), none, mapped.isna().to_numpy()
    parsed = pd.to_datetime(distinct, errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), none, parsed.isna().to_numpy()


def _decoded(distinct: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Distinct values with bytes (a Parquet binary column) decoded as UTF-8, and the mask of those that are not
    UTF-8 (left missing, reported as values that are not what the field expects)."""
    undecodable = np.zeros(len(distinct), dtype=bool)
    if distinct.dtype != object or pd.api.types.infer_dtype(distinct, skipna=True) not in ("bytes", "mixed"):
        return distinct, undecodable
    values = distinct.to_numpy(dtype=object).copy()
    for i, value in enumerate(values.tolist()):
        if isinstance(value, bytes):
            try:
                values[i] = value.decode("utf-8")
            except UnicodeDecodeError:
                values[i], undecodable[i] = None, True
    return pd.Series(values, index=distinct.index, dtype=object), undecodable


def _rows(mask: np.ndarray, values: pd.Series, name: str, expected: str, message: str | None = None) -> Problems:
    """The first rows of ``mask`` as problems, all of them counted."""
    rows = np.flatnonzero(mask)
    return Problems(_row_entries(rows[:MAX_PROBLEMS], values, name, expected, message), len(rows))


def _row_entries(rows: np.ndarray, values: pd.Series, name: str, expected: str, message: str | None) -> list[Problem]:
    return [
        {
            "row": row,
            "field": name,
            "message": message or f"{_jsonable(values.iloc[row])!r} is not {expected}",
            "expected": expected,
            "input": _jsonable(values.iloc[row]),
        }
        for row in rows.tolist()
    ]
