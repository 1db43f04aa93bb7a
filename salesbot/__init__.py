"""salesbot: the engine. Use cases and algorithms, free of the web framework."""

__version__ = "0.1.0"
