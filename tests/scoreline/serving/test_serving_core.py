from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import Predictor, ServedModel, smoke_test
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import EntityIndex
from scoreline.tasks import get_task
from tests.scoreline.serving.models import TASK, broken_bundle


def served(bundle: Any, version: str) -> ServedModel:
    predictor = Predictor(bundle, get_task(TASK))
    predictor.enable_fast_path(bundle.input_example)
    return ServedModel(TASK, "scoreline-match-outcome", version, "champion", "mlflow", bundle, predictor,
                       entities=EntityIndex(get_task(TASK), bundle.serving_state))  # fmt: skip


def test_fast_path_matches_the_bundle(small_bundle: Any) -> None:
    model = served(small_bundle, "1")
    assert model.predictor.fast_path
    example = small_bundle.input_example
    for _ in range(2):  # second round is answered from the memo
        probabilities, features = model.predictor.predict_instances(example[:5])
        assert np.allclose(probabilities, small_bundle.predict_proba(example[:5]).to_numpy(), atol=1e-6)
        assert np.allclose(features, small_bundle.features(example[:5]).to_numpy(), atol=1e-9)


def test_broken_version_fails_its_smoke_test(small_bundle: Any) -> None:
    broken = broken_bundle(small_bundle)
    with pytest.raises(ScorelineError) as caught:
        smoke_test(Predictor(broken, get_task(TASK)), broken.input_example, "9")
    assert "version 9" in caught.value.message


def test_a_request_keeps_the_model_it_started_with(small_bundle: Any) -> None:
    holder = ModelHolder((TASK,))
    first = served(small_bundle, "1")
    holder.swap(first)
    taken = holder.get(TASK)
    holder.swap(served(small_bundle, "2"))
    assert taken is first and taken.version == "1"
    assert holder.get(TASK).version == "2"


def test_no_model_yet_is_503_and_unknown_task_404(small_bundle: Any) -> None:
    service = PredictionService(ModelHolder((TASK,)), None)
    with pytest.raises(ScorelineError) as caught:
        service.predict(TASK, {"instances": small_bundle.input_example[0]})
    assert caught.value.http_status == 503
    with pytest.raises(ScorelineError) as caught:
        service.predict("darts", {"instances": small_bundle.input_example[0]})
    assert caught.value.http_status == 404


def test_validation_problems_carry_row_field_and_closest_names(small_bundle: Any) -> None:
    holder = ModelHolder((TASK,))
    holder.swap(served(small_bundle, "1"))
    service = PredictionService(holder, None, max_instances=3)
    good = small_bundle.input_example[0]
    typo = {**good, "away_team": good["away_team"].upper()}
    with pytest.raises(ScorelineError) as caught:
        service.predict(TASK, {"instances": [good, typo]})
    problem = caught.value.details["problems"][0]
    assert (problem["row"], problem["field"]) == (1, "away_team")
    assert good["away_team"] in problem["closest"]
    with pytest.raises(ScorelineError) as caught:
        service.predict(TASK, {"instances": [good] * 4})
    assert caught.value.http_status == 413
