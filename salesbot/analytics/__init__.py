"""Analytics: the KPIs of conversations, leads, recommendations, offers, the LLM and webhooks, and the outcome of
each conversation behind them."""
