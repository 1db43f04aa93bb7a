"""Fine-tuning datasets from the store's conversations: export (masked, checked, split by person) and submitting."""
