"""Fixtures for the prediction-log suites: an Elasticsearch client on a fresh osmem clone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scoreline.monitoring import indices
from tests.elastic import es_client


@pytest.fixture
def es(osmem_url: str) -> Iterator[Any]:
    client = es_client(osmem_url)
    indices.install(client)
    yield client
    client.close()
