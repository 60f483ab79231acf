"""Typed FastAPI dependencies of model-api: settings, the model holder, the running prediction service and
reloader, the request metrics, and the API / admin key checks.

Routes declare what they need as ``Annotated`` parameters (``settings: SettingsDep``); ``create_app`` puts
the objects on ``app.state`` and the lifespan adds the running ones (``app.state.serving``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from scoreline_kit.app import require_admin_key, require_api_key
from scoreline_kit.edge import requires

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.serving.holder import ModelHolder
from scoreline.serving.reloader import Reloader
from scoreline.serving.service import PredictionService
from scoreline_model_api.lifespan import Serving
from scoreline_model_api.metrics import RequestObserver
from scoreline_model_api.settings import ModelApiSettings


def get_settings(request: Request) -> ModelApiSettings:
    return request.app.state.settings


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def get_observer(request: Request) -> RequestObserver:
    return request.app.state.observer


def get_serving(request: Request) -> Serving:
    """What the lifespan started; 503 with Retry-After while model-api is starting."""
    serving: Serving | None = getattr(request.app.state, "serving", None)
    if serving is None:
        raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting; try again", retry_after_s=1)
    return serving


def get_service(serving: Annotated[Serving, Depends(get_serving)]) -> PredictionService:
    return serving.service


def get_reloader(serving: Annotated[Serving, Depends(get_serving)]) -> Reloader:
    return serving.reloader


SettingsDep = Annotated[ModelApiSettings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ObserverDep = Annotated[RequestObserver, Depends(get_observer)]
ServiceDep = Annotated[PredictionService, Depends(get_service)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]


@requires("predict")
def check_predict_key(request: Request, settings: SettingsDep) -> None:
    """``Authorization: Bearer $SCORELINE_API_KEY`` when ``SCORELINE_REQUIRE_API_KEY_FOR_PREDICTIONS`` is on."""
    if settings.require_api_key_for_predictions:
        require_api_key(lambda: settings.api_key)(request)


@requires("admin")
def check_admin_key(request: Request, settings: SettingsDep) -> None:
    """``Authorization: Bearer $SCORELINE_ADMIN_KEY``."""
    require_admin_key(lambda: settings.admin_key)(request)


PredictAuth = Depends(check_predict_key)
AdminAuth = Depends(check_admin_key)
