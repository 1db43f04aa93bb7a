"""What a visitor's message is, before anything is extracted from it: an answer, a question, a decline, a
correction, small talk, or a request for a person (in several languages).

Only the statements of a message may give field values; its questions are answered, never stored.
"""

from __future__ import annotations

import re

ASK_WORDS = (
    r"how|what|what's|whats|when|where|why|which|who|whom|whose|can|could|do|does|did|is|are|will|would|"
    r"should|shall|may (?:i|we)|might|have you|has|any chance|is there|are there|wie|wo|warum|kann|können|gibt es|"
    r"qué|que|cómo|dónde|cuándo|puedo|est-ce|quel|quelle|comment|où|pourquoi"
)
QUESTION_START = re.compile(rf"^\s*(?:(?:and|but|so|also|ok|okay|hi|hello|hey|sorry|one more thing)[, ]+)?"
                            rf"(?:{ASK_WORDS})\b", re.I)  # fmt: skip
ASKS_YOU = re.compile(r"\b(you|your|yours|u)\b", re.I)
SENTENCES = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")
PERSON = re.compile(
    r"\b(human|humans|real person|a person|someone real|live agent|an agent|agent please|agent|"
    r"(sales ?)?rep(resentative)?|operator|salesperson|sales person|customer (service|care|support)|support staff|"
    r"(talk|speak|chat) (to|with) (someone|somebody|a person|sales|staff|your team|a colleague|anyone)|"
    r"put me (through|in touch)|connect me|forward me|proper human|"
    r"mensch|menschen|mitarbeiter|mitarbeiterin|echte person|mit jemandem|berater|"
    r"una persona|persona real|humano|agente|hablar con alguien|asesor|"
    r"quelqu'un|quelqu\u2019un|une personne|personne r[ée]elle|humain|conseiller|"
    r"operatore|persona vera|atendente|medewerker|met iemand)\b",
    re.I,
)
DECLINE = re.compile(
    r"^\s*(?:(?:sorry|hmm+|um+|uh+|well|nah|no|oh)[,.!]?\s+)*(?:"
    r"(?:i'?d |i would )?(?:rather|prefer(?: not to| to not)?) (?:not )?(?:say|share|answer|tell|disclose|give)"
    r"(?: (?:that|it|this|you|yet))*|prefer not to say|"
    r"(?:i )?(?:do ?n[o']?t|dont|won'?t|will not|can'?t|cannot) (?:want to |wanna )?(?:say|share|tell|answer|"
    r"disclose|give)(?: (?:that|it|this|you|out|yet))*|not (?:telling|saying|sharing|gonna (?:say|tell)(?: you)?)|"
    r"won'?t say|can'?t say|no comment|none of your business|that'?s private|private|confidential|"
    r"pass|skip|skip (?:that|this|it)(?: one)?|let'?s skip (?:that|this|it)(?: one)?|next question|move on|"
    r"(?:i )?(?:do ?n[o']?t|dont) know(?: yet)?|dunno|no idea(?: yet)?|no clue|"
    r"i'?ll keep (?:that|it) to myself|n/?a|whatever|whenever|no thanks?|no thank you|nope|nah|no|"
    r"keine angabe|weiß nicht|prefiero no decirlo|no sé|je ne sais pas|pas de réponse"
    r")\s*[.!]*\s*$",
    re.I,
)
CORRECTION = re.compile(
    r"^\s*(?:(?:sorry|oops|wait|no|oh)[,.!]?\s+)*(?:actually|correction|i meant|i mean|make (?:it|that)|"
    r"change (?:it|that|my \w+) to|scratch that|let me correct|that should be|should have said|not .+?,? but)\b",
    re.I,
)
SMALL_TALK = re.compile(
    r"^\s*(?:hi|hello|hey|hallo|hola|bonjour|thanks?|thank you|thx|cheers|great|cool|nice|ok(?:ay)?|sure|"
    r"good (?:morning|afternoon|evening)|bye|goodbye|lol|:\)|👍)\s*[.!]*\s*$",
    re.I,
)
CATALOG = re.compile(
    r"\bwhat (?:do|can) (?:you|u|i) (?:sell|carry|have|offer|stock|buy)|\bwhat(?:'s| is) (?:in )?(?:your|the) "
    r"(?:range|catalog(?:ue)?|assortment|shop|store)|\bwhat kind of (?:products|things|stuff)|\bwhat products\b|"
    r"\bwhat(?:'s| is) popular\b|\bbest ?sellers?\b",
    re.I,
)


def wants_person(text: str) -> bool:
    """The visitor asks to talk with a person, in any of the languages we know."""
    return PERSON.search(text) is not None


def is_question(sentence: str) -> bool:
    """A question, not an answer: "can I sign up for your newsletter?" but not an unsure "5k?"."""
    sentence = sentence.strip()
    if QUESTION_START.search(sentence):
        return True
    return sentence.endswith("?") and (ASKS_YOU.search(sentence) is not None or len(sentence.split()) > 3)


def statements(text: str) -> str:
    """The message without its questions: what may give field values."""
    parts = [part for part in SENTENCES.split(text.strip()) if part.strip()]
    return " ".join(part for part in parts if not is_question(part))


def questions(text: str) -> str:
    """The message's questions only, for looking up an answer."""
    parts = [part for part in SENTENCES.split(text.strip()) if part.strip()]
    return " ".join(part for part in parts if is_question(part))


def declines(text: str) -> bool:
    """A refusal to answer the pending question ("prefer not to say", "dunno", "skip that")."""
    return DECLINE.search(text) is not None


def corrects(text: str) -> bool:
    """The visitor corrects something said before ("actually, make it 50", "sorry, I meant 6000 EUR")."""
    return CORRECTION.search(text) is not None


def small_talk(text: str) -> bool:
    return SMALL_TALK.search(text) is not None


def asks_catalog(text: str) -> bool:
    """The visitor asks what the store sells."""
    return CATALOG.search(text) is not None
