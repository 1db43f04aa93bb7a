"""Access: API keys, their roles, and who may do what."""
