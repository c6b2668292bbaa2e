"""Settings for the service: the one `Settings` class lives in ``workers.settings`` (workers never import service)."""

from workers.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
