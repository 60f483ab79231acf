"""What every Scoreline HTTP service shares: error mapping, auth, health and metrics."""

from scoreline_kit.app import create_app, require_admin_key, require_api_key, serve

__all__ = ["create_app", "require_admin_key", "require_api_key", "serve"]
