"""What kind of short answer a question asks for, as the entity types (OntoNotes, spaCy's) it may have.

"Who …?" wants a person or an organization, "How long …?" a length or a duration, "How many …?"
a count. A reader span of another type is the wrong answer however well it scores ("36 inches"
for a length is still a length; "4,000" jobs is not). Questions whose wording fixes no type
("What did they agree?", "Why …?") constrain nothing.

The table reads the question's own words (its wh-word and the noun after "what"/"which"); the
candidate side is typed by the entities spaCy found when the index was built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.ingest.annotate import Mention

PERSON = frozenset({"PERSON"})
WHO = frozenset({"PERSON", "ORG", "GPE"})
PLACE = frozenset({"GPE", "LOC", "FAC"})
TIME = frozenset({"DATE", "TIME"})
AMOUNT = frozenset({"MONEY", "QUANTITY", "PERCENT", "CARDINAL"})
COUNT = frozenset({"CARDINAL", "QUANTITY"})
EXTENT = frozenset({"QUANTITY", "DATE", "TIME"})  # how long: a length or a duration
MEASURE = frozenset({"QUANTITY", "CARDINAL", "PERCENT"})

# the noun after "what"/"which" that names the answer's kind
_NOUN_TYPES: dict[frozenset[str], tuple[str, ...]] = {
    TIME: ("year", "years", "date", "day", "month", "decade", "century", "time"),
    PLACE: ("country", "countries", "city", "cities", "state", "province", "region", "place", "port", "town"),
    frozenset({"ORG"}): ("company", "companies", "firm", "organization", "organisation", "party", "agency", "bank"),
    PERSON: (
        "minister", "president", "prime", "ambassador", "leader", "person", "official", "premier", "ceo",
        "secretary", "chief", "governor", "senator", "mayor", "founder", "author",
    ),
    frozenset({"PERCENT"}): ("percentage", "percent", "share", "proportion"),
    frozenset({"MONEY"}): ("cost", "price", "value", "worth", "amount", "sum", "budget", "investment", "toll"),
    frozenset({"CARDINAL", "QUANTITY"}): ("number", "population"),
    frozenset({"QUANTITY"}): (
        "length", "distance", "diameter", "capacity", "height", "width", "depth", "area", "weight", "volume",
    ),
}  # fmt: skip
# A unit the question names fixes the kind of figure: "How long is it in kilometres?" wants a length, not "11 months".
_LENGTH_UNITS = frozenset({
    "km", "kilometres", "kilometers", "kilometre", "kilometer", "miles", "mile", "metres", "meters", "feet", "inches",
    "tonnes", "tons", "barrels", "gigawatts", "megawatts", "cubic",
})  # fmt: skip
_TIME_UNITS = frozenset({"years", "months", "weeks", "days", "hours", "minutes", "decades"})
# "How much did it cost?" asks for money, where "How much did it grow?" may be a share or a count.
_MONEY_WORDS = re.compile(
    r"\b(?:cost|costs|costing|spend|spent|spending|pay|paid|worth|price|priced|fund|funded|funding|invest|invested|"
    r"earn|earned|raise|raised|budget|dollars?|pesos?|euros?)\b"
)  # fmt: skip
_HOW: dict[str, frozenset[str]] = {
    "much": AMOUNT,
    "many": COUNT,
    "long": EXTENT,
    "far": MEASURE,
    "big": MEASURE,
    "large": MEASURE,
    "high": MEASURE,
    "tall": MEASURE,
    "deep": MEASURE,
    "wide": MEASURE,
    "old": frozenset({"DATE", "CARDINAL"}),
    "often": frozenset({"DATE", "TIME", "CARDINAL"}),
}
_WHAT_NOUN = re.compile(r"\b(?:what|which)\s+(?:(?:former|current|senior|first|last|new)\s+)?([a-z]+)")
# "What is the population of …?", "What was the total value of …?": the head noun before "of" names the kind
_WHAT_IS_THE_NOUN = re.compile(
    r"\b(?:what|which)\s+(?:is|was|are|were|will\s+be)\s+(?:the|its|their|his|her)\s+(?:[a-z]+\s+)?([a-z]+)\s+of\b"
)
_WHO_IS_NAME = re.compile(r"(?i:who\s+(?:is|was|are|were))\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*\s*\??")
_IN_WHAT = re.compile(r"\b(?:in|by|since|until)\s+(?:what|which)\s+(year|month|decade|century)\b")


def expected_types(question: str) -> frozenset[str]:
    """The entity types a short answer to `question` may have; empty when its wording fixes none.

    "Who is Graeme Clark?" asks what he is (a role, a description), not for a name: no type.
    """
    if _WHO_IS_NAME.fullmatch(" ".join(question.split())):
        return frozenset()
    q = " ".join(question.lower().split())
    how = re.search(r"\bhow\s+(\w+)", q)
    if how and how.group(1) in _HOW:
        return _how_types(how.group(1), q)
    if _IN_WHAT.search(q) or re.search(r"\bwhen\b", q):
        return TIME
    for noun in (_WHAT_NOUN.search(q), _WHAT_IS_THE_NOUN.search(q)):
        for types, nouns in _NOUN_TYPES.items():
            if noun and noun.group(1) in nouns:
                return types
    if re.search(r"\bwho(m|se)?\b", q):
        return WHO
    if re.search(r"\bwhere\b", q):
        return PLACE | frozenset({"ORG"})
    return frozenset()


def _how_types(word: str, question: str) -> frozenset[str]:
    """"How long/much/…": the table's types, narrowed by a unit or a money word the (lower-cased) question names."""
    types = _HOW[word]
    words = set(re.findall(r"[a-z]+", question))
    if "QUANTITY" in types and words & _LENGTH_UNITS:
        return frozenset({"QUANTITY"})
    if types & TIME and words & _TIME_UNITS:
        return types & (TIME | {"CARDINAL"})
    if word == "much" and _MONEY_WORDS.search(question):
        return frozenset({"MONEY"})
    return types


def span_types(start: int, end: int, entities: Sequence[Mention]) -> frozenset[str]:
    """The types of the entities that make up most of the span `[start, end)` (or that the span lies in)."""
    found = set()
    for entity in entities:
        overlap = min(end, entity.end) - max(start, entity.start)
        if overlap > 0 and (overlap * 2 >= end - start or overlap * 2 >= entity.end - entity.start):
            found.add(entity.label)
    return frozenset(found)
