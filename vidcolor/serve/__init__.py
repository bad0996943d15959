"""`vidcolor serve`: colorize over HTTP (the optional extra ``vidcolor[serve]``)."""

from .app import DEFAULT_MAX_UPLOAD, create_app

__all__ = ["DEFAULT_MAX_UPLOAD", "create_app"]
