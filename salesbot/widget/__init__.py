"""The chat widget: the proactive triggers marketers set, and what the widget's loader reads of them."""
