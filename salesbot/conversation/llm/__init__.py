"""The LLM adapter, the one home of the `openai` SDK: the brain and the embeddings endpoint (`brain`), and
fine-tuning jobs (`tuning`). Everything else is handed what these build."""

from salesbot.conversation.llm.brain import (
    ANSWER_SCHEMA,
    INSTRUCTIONS,
    PROMPTS,
    BrainFailed,
    LLMBrain,
    ServerEmbeddings,
    client,
    prompt,
)

__all__ = [
    "ANSWER_SCHEMA",
    "INSTRUCTIONS",
    "PROMPTS",
    "BrainFailed",
    "LLMBrain",
    "ServerEmbeddings",
    "client",
    "prompt",
]
