"""What every command shares: the settings, loaded once by the root callback."""

from __future__ import annotations

from harvest.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()
