from __future__ import annotations

import pytest

from scoreline.monitoring import indices
from tests.elastic import es_client

pytestmark = pytest.mark.slow


def test_install_is_idempotent_and_creates_the_fixed_indices(osmem_url: str) -> None:
    client = es_client(osmem_url)
    first = indices.install(client)
    assert first["template/scoreline-predictions"] == "put"
    assert first["index/scoreline-drift"] == "created"
    second = indices.install(client)
    assert all(second[f"template/{name}"] == "unchanged" for name in indices.TEMPLATES)
    assert second["index/scoreline-outcomes"] == "exists"
    mapping = client.indices.get_mapping(index="scoreline-drift")["scoreline-drift"]["mappings"]["properties"]
    assert mapping["psi"]["type"] == "double"
    assert mapping["feature"]["type"] == "keyword"
    client.close()
