"""An export's scratch file on disk (SQLite, in the system's temporary folder, deleted at the end), for what grows
with the number of conversations and must not sit in memory: which visitors and customers are one person, the
digests of the lines already written (duplicates are dropped), and well-rated answers a down-rated reply can be
paired with."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

TABLES = """
CREATE TABLE edge (node TEXT NOT NULL, other TEXT NOT NULL);
CREATE TABLE label (node TEXT PRIMARY KEY, root TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE seen (digest BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE praised (key TEXT NOT NULL, side TEXT NOT NULL, conversation_id TEXT NOT NULL, answer TEXT NOT NULL);
CREATE INDEX praised_key ON praised (key, side);
"""
SPREAD = """
UPDATE label SET root = (
    SELECT MIN(other_label.root) FROM edge JOIN label AS other_label ON other_label.node = edge.other
    WHERE edge.node = label.node
) WHERE root > (
    SELECT MIN(other_label.root) FROM edge JOIN label AS other_label ON other_label.node = edge.other
    WHERE edge.node = label.node
)
"""


class Scratch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + TABLES)

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def link(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Visitors seen signed in as customers: each pair is one person."""
        edges = [(f"v:{visitor}", f"c:{customer}") for visitor, customer in pairs]
        self._db.executemany("INSERT INTO edge VALUES (?, ?)", edges + [(b, a) for a, b in edges])
        self._db.commit()

    def settle(self) -> None:
        """Label every linked id with the smallest id it is connected to (one pass per step of the longest chain)."""
        self._db.execute("CREATE INDEX edge_node ON edge (node)")
        self._db.execute("INSERT OR IGNORE INTO label SELECT DISTINCT node, node FROM edge")
        while self._db.execute(SPREAD).rowcount:
            pass
        self._db.commit()

    def person(self, *, visitor_id: str | None, customer_id: str | None) -> str:
        """Who a conversation is with: the same answer for every visitor and customer id linked to one another."""
        node = f"c:{customer_id}" if customer_id else f"v:{visitor_id}"
        found = self._db.execute("SELECT root FROM label WHERE node = ?", (node,)).fetchone()
        return found[0] if found else node

    def first_time(self, digest: bytes) -> bool:
        """True the first time a line's digest is offered, False for a duplicate."""
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (digest,)).rowcount == 1

    def praise(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """(key, side, conversation id, answer JSON) of bot answers the staff rated up."""
        self._db.executemany("INSERT INTO praised VALUES (?, ?, ?, ?)", rows)
        self._db.commit()

    def praised(self, *, key: str, side: str, besides: str) -> Iterable[str]:
        """Well-rated answers at the same moment (`key`), on the same side of the split, from other conversations."""
        query = "SELECT answer FROM praised WHERE key = ? AND side = ? AND conversation_id != ? ORDER BY rowid"
        for (answer,) in self._db.execute(query, (key, side, besides)):
            yield answer

    def commit(self) -> None:
        self._db.commit()
