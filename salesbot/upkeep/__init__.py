"""The worker's upkeep: scheduled jobs (retraining, pruning, re-embedding, FAQ gaps, experiment guardrails), each run
recorded with its outcome, and hand-offs routed to reps every few seconds."""
