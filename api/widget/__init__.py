"""The chat widget: the proactive triggers marketers set and the settings the loader reads (API), and the loader
and chat page themselves (web pages)."""

from api.widget.pages import blp as pages
from api.widget.triggers import blp as triggers

__all__ = ["pages", "triggers"]
