"""Schemathesis over a running service's OpenAPI document: property-based cases (valid and invalid) for every
operation, sent with the key the operation declares (``x-scoreline-access``), each answer checked for server
errors and for a status the document does not list. Only loopback addresses are ever called."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

LOOPBACK_URL = "http://127.0.0.1:9/data.csv"  # the discard port: URL pulls never leave this machine


@dataclass
class FuzzReport:
    service: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    undocumented: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    calling: float = 0.0  # of ``seconds``, waiting for the service
    by_status: dict[tuple[str, int], int] = field(default_factory=Counter)
    document: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.service}: {self.cases} cases over {len(self.per_operation)} operations in {self.seconds:.0f} s; "
            f"statuses {dict(sorted(self.statuses.items()))}; {len(self.server_errors)} server errors; "
            f"{len(self.undocumented)} undocumented statuses; {self.calling:.0f} s waiting for the service"
        )


def fuzz(
    service: str,
    base_url: str,
    keys: dict[str, str],
    *,
    examples: int,
    per_operation: dict[str, int] | None = None,
    skip: frozenset[str] = frozenset(),
) -> FuzzReport:
    """Run ``examples`` cases per generation mode (positive and negative) per operation (``per_operation``
    overrides by ``"METHOD /path"``); ``keys`` maps ``api`` and ``admin`` to the service's keys."""
    document = requests.get(f"{base_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=base_url)
    report = FuzzReport(service, document=document)
    session = requests.Session()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in skip:
            continue
        raw = operation.definition.raw
        documented = set(raw.get("responses", {}))
        access = raw.get("x-scoreline-access", "public")
        key = keys.get("admin" if access == "admin" else "api")
        headers = {"Authorization": f"Bearer {key}"} if key and raw.get("security") else {}
        count = (per_operation or {}).get(label, examples)
        began = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, count, base_url, headers, session, documented, label, report)
        report.timings[label] = time.monotonic() - began
    report.seconds = time.monotonic() - started
    return report


def _run(
    operation: Any,
    mode: GenerationMode,
    count: int,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    documented: set[str],
    label: str,
    report: FuzzReport,
) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        _stay_on_loopback(case)
        sent = time.monotonic()
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
            report.calling += time.monotonic() - sent
        except requests.RequestException as exc:  # a connection dropped mid-request is a server failure too
            report.server_errors.append(f"{label} [{mode.value}]: {type(exc).__name__}: {exc}")
            return
        status = response.status_code
        report.cases += 1
        report.statuses[status] += 1
        report.per_operation[label] += 1
        report.by_status[(label, status)] += 1
        where = f"{label} [{mode.value}] -> {status}: {response.text[:300]!r}\n  {case.as_curl_command()[:600]}"
        if status >= 500:
            report.server_errors.append(where)
        if str(status) not in documented and "default" not in documented:
            report.undocumented.append(where)

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters, no body): positive cases cover it
        one()


def _stay_on_loopback(case: Any) -> None:
    """A generated ``url``/``urls`` body would make the service resolve and fetch arbitrary hosts: point them at
    loopback (refused by the outbound policy, or nothing listens)."""
    body = case.body
    if isinstance(body, dict):
        if "url" in body:
            body["url"] = LOOPBACK_URL
        if isinstance(body.get("urls"), list):
            body["urls"] = [LOOPBACK_URL for _ in body["urls"]]


def assert_clean(report: FuzzReport, minimum_cases: int = 1000) -> None:
    """≥ ``minimum_cases`` cases, no 5xx, every status documented, the bearer scheme declared and used."""
    print(report.summary())
    schemes = report.document.get("components", {}).get("securitySchemes", {})
    assert schemes.get("bearerAuth", {}).get("scheme") == "bearer", schemes
    secured = [op for path in report.document["paths"].values() for op in path.values() if op.get("security")]
    assert secured, "no operation declares the bearer security scheme"
    assert report.cases >= minimum_cases, report.summary()
    assert not report.server_errors, "\n".join(report.server_errors[:10])
    assert not report.undocumented, "\n".join(report.undocumented[:10])
