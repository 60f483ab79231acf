"""Sports service traffic per (sport, service, region), forecast 10 days ahead from traffic and the event calendar."""

from scoreline.tasks.event_traffic.task import EventTrafficTask

__all__ = ["EventTrafficTask"]
