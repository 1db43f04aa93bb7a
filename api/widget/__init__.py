"""The chat widget's HTTP resources: the proactive triggers marketers set and the settings the loader reads."""

from api.widget.triggers import blp as triggers

__all__ = ["triggers"]
