"""The LLM adapter: the brain and the embeddings endpoint (`brain`), and fine-tuning jobs (`tuning`), both through
`sdk`, the one module that imports the `openai` SDK. Everything else is handed what these build."""

from salesbot.conversation.llm.brain import (
    ANSWER_SCHEMA,
    INSTRUCTIONS,
    PROMPTS,
    BrainFailed,
    LLMBrain,
    ServerEmbeddings,
    prompt,
)
from salesbot.conversation.llm.sdk import client

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
