"""The conversation domain's HTTP resources: chats, the qualification schema and the FAQ."""

from api.conversation.conversations import blp as conversations
from api.conversation.faqs import blp as faqs
from api.conversation.qualification import blp as qualification

__all__ = ["conversations", "faqs", "qualification"]
