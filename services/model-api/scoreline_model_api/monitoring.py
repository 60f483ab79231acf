"""Monitoring routes of model-api (drift and live accuracy runs); filled in by the monitoring work."""

from fastapi import APIRouter

router = APIRouter(tags=["monitoring"])
