"""Question + history → what is actually searched.

Transparent rules over spaCy's entities and nouns (`app/ingest/annotate.py`), no trained rewriter:
- A question that carries instructions ("Ignore your rules and …. What was …?")
  is searched without the instruction sentences: they are not what the user
  wants to know about, and an answer quoted from the documents can't obey them.
- Only a question that needs earlier turns is a follow-up (`history_cue` says why); one
  that names its own subject is searched alone, as in a fresh chat, so a new
  topic mid-chat is not pulled towards the old one. A question needs them when:
  * a word points back: he, she, it, they, him, her, them, his, its, their,
    this, these, those, such, same, latter, else, then, other, another, ones.
    Not: he, she, they, his, its, their after a name in the same question
    ("Has Ottawa given its partner…"); "this year" (now, but "that year" is
    back); "each other". "that" unless it starts a clause ("said that…",
    "that the…", "that Canada…"); "there" unless existential ("is there",
    "there are"); "before", "after", "earlier", "later" ending the question
    ("in the year before?"). Nor a pronoun after a clause that names something:
    it refers to that ("What is a heat pump and how much does it cost?");
  * it opens like a continuation: "And …", "But …", "So …", "Also …", "Or …",
    "Plus …", "What about …", "How about …";
  * it names nothing: no capitalised word except at a sentence start (nor
    "I"), no acronym, no number, and its first noun is a relational one or there
    is none ("Why?", "How much?", "What are the main causes?": causes of what?).
    "What pipeline did TC Energy finish in Mexico?" names something, and "What did
    the pipeline end up costing?" has a subject of its own: both stand alone. Only
    this test and the one for a pronoun after a clause need spaCy's part-of-speech
    tags, so a question that names something and points nowhere is decided without
    loading it.
- A follow-up is searched as a standalone question made from the earlier turns, each of
  them first made standalone the same way (so "it" three turns on still finds the topic).
  The first of these that applies:
  * "And Mexico?", "What about 2023?": the last question with its name of the same type
    swapped, the last one if several ("What tariffs did the US put on Canada in February
    2025?" → "… on Mexico …"); a date or place it lacks is added ("… in 2023");
  * he, she, him, her, his → the most recent person named in an earlier answer, then in an
    earlier question; it, its, they, them, their, "a new one" → the most recent thing: an
    earlier answer that is a name (not a person's), else what the earlier question was
    about: of its entities and noun phrases the one the conversation mentions most, the
    one after "what"/"which", the last; relational ones like "causes" last; "there" → the
    most recent place, as "in …". Two different pronouns in one question ("Did they get
    it?") refer to different things; possessives become "<name>'s". "those tariffs" → the
    earlier phrase with the same head noun and more words ("the IEEPA tariffs");
  * "… in the year before?" → "… in the year before 2009?", the most recent date named;
  * nothing to replace ("What are the main causes?", "Why?"): the topic is added, "… of
    <topic>" after a noun, "(<topic>)" otherwise. The topic is the thing mentioned in most
    turns, the earliest first.
  The last `CONTEXT_TURNS` turns are carried in as well, each question with the short answer it
  got, at a weight below 1 (the `history_weight` setting): their vector is blended into the
  query vector and their words add to BM25. A rewrite names what the question pointed at but
  can be too short to find its passage alone ("Who replaced Graeme Clark?" falls under the
  similarity floor without "ambassador" and "Mexico"); a follow-up with nothing to rewrite
  from (no earlier name or noun) has only them.
  On TREC CAsT's 1,041 follow-ups with a human rewrite (`askdocs eval cast`, the tuning set)
  the rewrite's token F1 against the human rewrite is 0.78, against 0.75 for the question
  alone; with the turns carried in, what is searched holds 0.80 of the human rewrite's terms
  and 0.36 of those it adds to the question (before, carrying the turns into the question
  alone: 0.79 and 0.34, in 12.2 terms against 10.8 now). The subject rule reads 0.74 of the
  turns whose human rewrite adds terms as follow-ups (0.89 without it, which searches 0.83 of
  the human rewrite's terms at token F1 0.60 against 0.64) and 0.27 of those whose rewrite adds
  none (0.62): CAsT stays on one topic, but in a chat about documents a new subject mid-chat is
  common, and reading it as a follow-up pulls the search towards the old one.
The result says what was searched, so the UI and CLI can show it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.index.lexical import terms
from app.ingest.annotate import Annotation, Annotator, Mention
from app.ingest.sentences import split_sentences
from app.types import Turn

CONTEXT_TURNS = 2
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.*\b(rules?|instructions?|previous|above|prompt)\b"
    r"|\bsystem override\b|\byou are now\b|\bpretend\b|\bjust (say|answer|reply)\b",
    re.IGNORECASE,
)
# in a sentence that is not itself a question, these words address the assistant, not the documents
_COMMAND = re.compile(r"\b(say|respond|reply|print|reveal|disregard|ignore|skip|pretend|note to)\b", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The follow-up rules (module docstring), as word lists.
_POINTING_BACK = _words(
    "he she it they him her them his its their theirs hers this these those such same latter else then other another "
    "ones"
)
# after a name in the same question these point at it: "Has Ottawa given its partner enough focus?"
_WITHIN = _words("he she they his its their")
_NOW = _words("year years month months week weeks time century decade days morning")  # "this year"
_BE = _words("is are was were be been being s")  # "there is", "is there", "there's"
# "that" starting a clause, not pointing back: "… said that the …", "… that a …", "… argued that Canada …"
_CLAUSE_START = _words("the a an some all no every each many most both any")
_SAYING = _words("say says said claim claims claimed argue argues argued think believe know mean means")
_RELATIVE_TIME = _words("before after earlier later afterwards")
_CONTINUATION = _words("and but so also or plus")
_SENTENCE_END = '.!?:;"“'
_WORD = re.compile(r"[^\W_]+")

# Nouns that name a relation to something else, not a subject of their own: "What are the main
# causes?" asks the causes of what the chat is about. English's common relational nouns, not a
# list fitted to examples; a question whose only nouns are these names nothing.
_RELATIONAL = _words(
    # attributes and aspects: the causes, the cost, the main themes (of what?)
    "cause effect type kind sort form difference similarity benefit advantage disadvantage pro con positive negative "
    "symptom sign treatment cure risk danger problem issue concern cost price fee value size length height weight age "
    "history origin future culture example way reason step use application feature characteristic impact influence "
    "role purpose aim objective goal meaning definition importance significance theme finding rule requirement "
    "guideline alternative option process result outcome consequence version design structure detail fact info "
    "information relationship relation name number amount rate level range limit function property quality source "
    # parts: the main layers, the first stage
    "part piece component layer stage phase section side member "
    # roles: the leader, the author (of what?)
    "leader head founder owner author creator inventor president winner player character "
    # placeholders and times
    "thing stuff one other lot bit time day year month week today morning"
)
# Pronouns by what they refer to; possessives become "<name>'s".
_PERSONAL = _words("he she him her his hers")
_IMPERSONAL = _words("it its they them their theirs")
_POSSESSIVE = _words("his hers its their theirs")
# after "her", these words mean it is not possessive ("gave her to", "met her in 1990", "Why did they fire her?")
_NOT_A_NOUN_PHRASE = _words(
    "to in on at for from with by about of and or but as than that if when while because after before so up out off "
    "over again back down away too also then there here"
)
_DETERMINERS = _words("the a an my your our his her its their this that these those some any every each no which what")
_WH = _words("what which who whom whose where when why how")
# Function words: never part of a topic ("When was it discovered?" has no topic words).
_FUNCTION = (
    _DETERMINERS
    | _NOT_A_NOUN_PHRASE
    | _WH
    | _words(
        "is are was were be been being am do does did done have has had having can could will would shall should may "
        "might must i me you we us it they them he him she her hers theirs ours yours mine one ones not no yes s t "
        "tell know like want please give show explain describe"
    )
)
# entity types that are values, not things "it" can point at
_VALUES = _words("DATE TIME CARDINAL ORDINAL QUANTITY PERCENT MONEY")
_PLACES = _words("GPE LOC FAC")
_WHERE_IN = _PLACES | _words("DATE TIME")  # "What about 2023?" with no date to swap: "… in 2023"
_NAME_WORDS = 6  # an answer at most this long can be a name ("Mark Carney", "Southeast Gateway")
# an "it" that stands for nothing: "It seems …", "How long does it take …", "make it", "worth it"
_AFTER_EXPLETIVE_IT = _words("seems seemed seem sounds sound looks look appears appear feels feel mean means")
_COST_OR_TAKE = _words("cost costs take takes took")  # expletive when "to …" follows: "does it take to build"
_BEFORE_EXPLETIVE_IT = _words("make makes made making worth")
# where a clause ends: a pronoun after one that names something refers to that, not to an earlier turn
_CLAUSE_BREAK = re.compile(r"[.!?;,]\s|\s(?:and|but|or)\s")
_CONTRACTION = re.compile(r"['’](s|re|ll|ve|d)\b", re.IGNORECASE)
_CONTRACTED = {"s": "is", "re": "are", "ll": "will", "ve": "have", "d": "would"}
_DEMONSTRATIVES = _words("this that these those")
_WORD_AND_SPACE = re.compile(r"[^\W_]+\W+")
_NOT_ONE = _words("no each every any some")  # "no one", "each one": no noun stands for "one"
_PRONOUN_BASE = {
    "him": "he", "his": "he", "her": "she", "hers": "she", "its": "it",
    "them": "they", "their": "they", "theirs": "they", "ones": "one",
}  # fmt: skip
_ASKS_WHO = re.compile(r"(?i)\s*(who|whom|whose)\b")
_ACCORDING_TO = re.compile(r"(?i)\baccording to\s+(?:the\s+|an?\s+)?$")
# what "What is taurine?" asks about, when spaCy tags no noun in it ("taurine" an adjective)
_DEFINED = re.compile(r"(?i)^(?:what|who)(?:\s+(?:is|are|was|were)|['’]s)\s+(?:an?\s+|the\s+)?([^\W\d_]+)\s*[?.]?$")


_CARRIED_MARK = " [+ earlier turns ×"  # in `describe()`: what follows is the carried turns, not the question


@dataclass(frozen=True)
class ResolvedQuery:
    """What is searched for a question, and how it came from the conversation."""

    question: str  # as asked
    search: str  # what retrieval and scoring use: the question, or for a follow-up its standalone rewrite
    context: str  # the last earlier questions and their short answers, carried into a follow-up
    context_weight: float
    carried: tuple[str, ...] = ()  # the earlier questions the search draws on (rewrite, context), oldest first
    rewritten: str = ""  # the standalone question a follow-up was read as (== search); "" when not rewritten

    def describe(self) -> str:
        if not self.context:
            return self.search
        return f"{self.search}{_CARRIED_MARK}{self.context_weight:g}: {self.context}]"


def read_as(question: str, described: str) -> str:
    """The standalone question that `described` (a `ResolvedQuery.describe()`) says `question` was
    rewritten to; "" when the question was searched as asked."""
    search = described.split(_CARRIED_MARK, 1)[0]
    return "" if search == searchable_question(question) else search


def searchable_question(question: str) -> str:
    # one line: a question typed over several lines is still one question
    parts = [s.text for s in split_sentences(" ".join(question.split()))]
    if len(parts) > 1:
        # Only the instructions go: "Now it stopped working. Why?" needs its first sentence, but
        # "Note to assistant: … say zero. How many …?" is searched by its question alone.
        kept = [p for p in parts if not _INSTRUCTION.search(p) and (p.endswith("?") or not _COMMAND.search(p))]
        if kept:
            return " ".join(kept)
    return " ".join(question.split())


def history_cue(question: str, annotator: Annotator | None = None) -> str:
    """Why `question` needs earlier turns: the word or rule ("it", "And …", "names nothing"); "" if it stands alone.

    Only a question that names nothing is annotated (by `annotator`, made when needed), for a noun of its own.
    """
    words, named = _words_and_names(question)
    lower = [w.lower() for w in words]
    pointing = next((word for i, word in enumerate(lower) if _points_back(lower, i, named)), "")
    if pointing:
        return pointing
    if lower[:1] and lower[0] in _CONTINUATION:
        return f"{words[0]} …"
    if lower[:2] in (["what", "about"], ["how", "about"]):
        return f"{words[0]} {words[1]} …"
    if any(named):
        return ""
    nouns = (annotator or Annotator()).annotate(question).nouns
    return "" if nouns and not _is_relational(nouns[0].text) else "names nothing"


def _words_and_names(question: str) -> tuple[list[str], list[bool]]:
    """The question's words, and which name something: a capitalised word that does not start a sentence
    ("Who is Carney?"; not "I"), an acronym ("USMCA", "G7") or a number ("2009")."""
    words, named = [], []
    for match in _WORD.finditer(question):
        words.append(match.group())
        named.append(_is_name(question, match))
    return words, named


def _is_name(text: str, match: re.Match[str]) -> bool:
    word = match.group()
    before = text[: match.start()].rstrip()
    starts_sentence = not before or before[-1] in _SENTENCE_END
    return (
        (word[0].isupper() and not starts_sentence and word != "I")
        or (len(word) > 1 and word.isupper())
        or word.isdigit()
    )


def _points_back(lower: list[str], i: int, named: list[bool]) -> bool:
    """Whether word `i` of a question (lower-cased words; which are names) points at an earlier turn."""
    word = lower[i]
    before, after = lower[i - 1] if i else "", lower[i + 1] if i + 1 < len(lower) else ""
    if (word in _WITHIN and any(named[:i])) or (before, word) in (("each", "other"), ("one", "another")):
        return False
    if word in _POINTING_BACK:
        return not (word in ("this", "these") and after in _NOW)
    if word == "that":
        return after in _NOW or not (after in _CLAUSE_START or before in _SAYING or (after and named[i + 1]))
    if word == "there":
        return not {before, after} & _BE
    return word in _RELATIVE_TIME and i == len(lower) - 1


def _is_relational(noun: str) -> bool:
    word = noun.lower()
    return any(word.endswith(plural) and word.removesuffix(plural) in _RELATIONAL for plural in ("", "s", "es"))


def resolve(question: str, history: Sequence[Turn], weight: float, annotator: Annotator | None = None) -> ResolvedQuery:
    """What to search for `question`: the question itself or, for a follow-up (`history_cue`), the standalone
    question made from the earlier turns (`history`, oldest first) with the last `CONTEXT_TURNS` of them carried in
    at `weight`. spaCy is loaded (by `annotator`, or one made here) only for a question that may be a follow-up."""
    search = searchable_question(question)
    earlier = [turn for turn in history if turn.question.strip()]
    annotator = annotator if isinstance(annotator, MemoAnnotator) else MemoAnnotator(annotator)
    conversation = _Conversation(annotator)
    if not earlier or not conversation.follows_up(search):
        return ResolvedQuery(question, search, "", 0.0)
    for turn in earlier:  # each earlier turn made standalone from the ones before it, as it was then
        conversation.add(turn.question, turn.answer)
    current = conversation.standalone(question)
    # The last turns go in as they were asked and answered, below the question's weight: a rewrite names what
    # the question pointed at, but alone it can be too short to find its passage ("Who replaced Graeme Clark?"
    # falls under the similarity floor without "ambassador" and "Mexico"); with nothing to rewrite from they
    # are all the follow-up has.
    last = range(max(0, len(earlier) - CONTEXT_TURNS), len(earlier))
    pieces = []
    for i in reversed(last):  # most recent first
        pieces.append(searchable_question(earlier[i].question))
        if earlier[i].answer.strip():
            pieces.append(" ".join(earlier[i].answer.split()))
    carried = tuple(earlier[i].question for i in sorted({*last, *current.sources}))
    rewritten = current.question if current.sources else ""
    return ResolvedQuery(question, rewritten or search, " ".join(pieces), weight, carried, rewritten)


class MemoAnnotator(Annotator):
    """An annotator (the one given, or its own spaCy loaded on first use) that annotates each text once: every
    earlier turn is read again for each turn after it."""

    def __init__(self, annotator: Annotator | None = None) -> None:
        super().__init__()
        self._given = annotator
        self._seen: dict[str, Annotation] = {}

    def annotate(self, text: str) -> Annotation:
        if text not in self._seen:
            self._seen[text] = self._given.annotate(text) if self._given else super().annotate(text)
        return self._seen[text]


@dataclass(frozen=True)
class _Phrase:
    """Something a question or answer names: an entity (its type) or a noun phrase ("NOUN")."""

    text: str
    kind: str  # an OntoNotes entity type, or NOUN
    start: int
    end: int
    relational: bool = False  # its head noun is relational ("the main causes")

    @property
    def person(self) -> bool:
        return self.kind == "PERSON"

    @property
    def thing(self) -> bool:
        """What it, they, one can stand for: not a person, nor a value like a date."""
        return not self.person and self.kind not in _VALUES

    @property
    def plural(self) -> bool:
        """Whether it names more than one: "pipelines", "Lewis and Clark" (not "gas", "analysis")."""
        head = self.text.split()[-1].lower()
        return " and " in self.text or (head.endswith("s") and not head.endswith(("ss", "us", "is")))

    def as_written(self) -> str:
        """A common noun phrase as it reads in a sentence ("the garage door opener"); a name as it is."""
        first = self.text.split()[0]
        return f"the {self.text}" if self.kind == "NOUN" and first.lower() == first else self.text


@dataclass(frozen=True)
class _Standalone:
    """An earlier turn as it stands alone, and which earlier turns (indexes) its rewrite drew on."""

    question: str
    answer: str
    sources: frozenset[int] = frozenset()


_Found = tuple[str, int]  # a referent's text, and the turn it is from


@dataclass(frozen=True)
class _Replacement:
    """Text that replaces the question's [start, end) ("him" → "Graeme Clark"), from the earlier turn `turn`."""

    start: int
    end: int
    text: str
    turn: int


_Rewrite = tuple[str, frozenset[int]]  # a standalone question, and the earlier turns it draws on


class _Conversation:
    """The turns so far, each made standalone, and what they name."""

    def __init__(self, annotator: Annotator) -> None:
        self.annotator = annotator
        self.turns: list[_Standalone] = []
        self.turn_terms: list[set[str]] = []  # the terms of each standalone turn, question and answer
        self._phrases: dict[str, list[_Phrase]] = {}  # text → what it names, read once

    def add(self, question: str, answer: str) -> None:
        self.turns.append(dataclasses.replace(self.standalone(question), answer=answer))
        self.turn_terms.append(set(terms(f"{self.turns[-1].question} {answer}")))

    def standalone(self, asked: str) -> _Standalone:
        """A question made standalone from the turns so far (unchanged, with no `sources`, if it needs none or
        there is nothing to rewrite it from)."""
        question = searchable_question(asked)
        if not self.turns or not self.follows_up(question):
            return _Standalone(question, "")
        made = (
            self.swap_ellipsis(question)
            or self.replace_pronouns(question)
            or self.anchor_time(question)
            or self.add_topic(question)
        )
        return _Standalone(made[0], "", made[1]) if made else _Standalone(question, "")

    # --- the rewrites, tried in this order ---

    def swap_ellipsis(self, question: str) -> _Rewrite | None:
        """ "And Mexico?" after "What tariffs did the US put on Canada …?" → "What tariffs did the US put on
        Mexico …?"; None if the question is not a continuation that names only what to swap in."""
        rest = _after_continuation(question)
        if rest is None:
            return None
        offset = len(question) - len(rest)
        names = [p for p in self.phrases(question) if p.kind != "NOUN" and p.start >= offset]
        unnamed = "".join(" " if any(p.start <= i < p.end for p in names) else c for i, c in enumerate(question))
        if not names or any(w.lower() not in _FUNCTION for w in _WORD.findall(unnamed[offset:])):
            return None  # more than names ("And what about the cons?"): the other rewrites read it
        last = len(self.turns) - 1
        previous = self.turns[last].question
        before = [p for p in self.phrases(previous) if p.kind != "NOUN"]
        swapped = previous
        for name in names:
            same = [p for p in before if _same_kind(p.kind, name.kind)]
            if same:  # the last one named is what the question is most about: "… put on Canada in …"
                swapped = swapped.replace(same[-1].text, name.text, 1)
            else:
                joint = "in" if name.kind in _WHERE_IN else "for"
                swapped = f"{swapped.rstrip(' ?.')} {joint} {name.text}?"
        return swapped, self.drawn_from(last)

    def follows_up(self, question: str) -> bool:
        """Whether a question needs the turns before it: `history_cue`, unless every word that points back
        refers to what the question itself names before it ("What is a heat pump and how much does it cost?")."""
        cue = history_cue(question, self.annotator)
        if cue not in _PERSONAL | _IMPERSONAL:
            return bool(cue)
        matches = list(_WORD.finditer(question))
        lower = [m.group().lower() for m in matches]
        named = [_is_name(question, m) for m in matches]
        pointing = [i for i in range(len(matches)) if _points_back(lower, i, named)]
        return not all(
            lower[i] in _PERSONAL | _IMPERSONAL
            and self.named_before(question, matches[i].start(), lower[i] in _PERSONAL)
            for i in pointing
        )

    def named_before(self, question: str, at: int, person: bool) -> bool:
        """Whether the question names a person (`person`), else a thing, in a clause that ends before `at`: a
        pronoun there refers to it ("What is a heat pump and how much does it cost?")."""
        clause = max((b.end() for b in _CLAUSE_BREAK.finditer(question, 0, at)), default=0)
        named = [p for p in self.phrases(question) if p.end <= clause and not p.relational]
        return any(p.person if person else p.thing for p in named)

    def replace_pronouns(self, question: str) -> _Rewrite | None:
        """Each word that points back replaced by what it refers to (`replacements`: "Who replaced him?" → "Who
        replaced Graeme Clark?"); None if none could be."""
        replacements = self.replacements(question)
        if not replacements:
            return None
        pieces, last, sources = [], 0, frozenset[int]()
        for r in replacements:
            text = r.text[:1].upper() + r.text[1:] if _starts_sentence(question, r.start) else r.text
            pieces.append(question[last : r.start] + text)
            last = r.end
            sources |= self.drawn_from(r.turn)
        return "".join(pieces) + question[last:], sources

    def replacements(self, question: str) -> list[_Replacement]:
        """What the words of a question that point back are replaced by, in order. Two different pronouns ("Did
        they get it?") refer to different things; one after a clause that names something refers to that ("What
        is a heat pump and how much does it cost?"), and so does "one" after a noun ("A heat pump seems right. How
        much is it to install one?")."""
        matches = list(_WORD.finditer(question))
        lower = [m.group().lower() for m in matches]
        named = [_is_name(question, m) for m in matches]
        own = [p.end for p in self.phrases(question) if not p.relational and p.kind not in _VALUES]
        found: list[_Replacement] = []
        taken: dict[str, str] = {}  # pronoun (its base form) → what it was replaced by
        for i, match in enumerate(matches):
            if found and match.start() < found[-1].end:
                continue  # in what was just replaced ("they’re", "those tariffs")
            if self.named_before(question, match.start(), lower[i] in _PERSONAL) or (
                lower[i] in ("one", "ones") and any(end <= match.start() for end in own)
            ):
                continue
            base = _PRONOUN_BASE.get(lower[i], lower[i])
            replacement = self.substitute(question, matches, i, named, {t for b, t in taken.items() if b != base})
            if replacement:
                taken.setdefault(base, replacement.text)
                found.append(replacement)
        return found

    def substitute(
        self, question: str, matches: list[re.Match[str]], i: int, named: list[bool], others: set[str]
    ) -> _Replacement | None:
        """What word `i` of a question (its words; which are names) is replaced by, if it points back: he, she,
        it, they… by their referent (not one in `others`, taken by another pronoun); "a new one" by a thing a
        noun names; "there" by "in <the place>"; "those tariffs" by an earlier "IEEPA tariffs"."""
        lower = [m.group().lower() for m in matches]
        before, word = lower[i - 1] if i else "", lower[i]
        after = lower[i + 1] if i + 1 < len(lower) else ""
        start, end = matches[i].span()
        if word in _PERSONAL | _IMPERSONAL:
            if not _points_back(lower, i, named) or _expletive(lower, i):
                return None
            plural = _PRONOUN_BASE.get(word, word) == "they"
            found = self.referent(person=word in _PERSONAL, plural=plural, unless=others)
            if found is None:
                return None
            text, turn = found
            if word in _POSSESSIVE or (word == "her" and bool(after) and after not in _NOT_A_NOUN_PHRASE):
                text = _possessive(text)
            contraction = _CONTRACTION.match(question, end)  # "they’re" → "Venus flytraps are"
            if contraction:
                text, end = f"{text} {_CONTRACTED[contraction.group(1).lower()]}", contraction.end()
            return _Replacement(start, end, text, turn)
        if word in ("one", "ones") and _stands_for_a_noun(before, after):
            found = self.referent(person=False, nouns_only=True, unless=others)
            return _Replacement(start, end, found[0].removeprefix("the "), found[1]) if found else None
        if word == "there" and _points_back(lower, i, named):
            place = self.place()
            return _Replacement(start, end, f"in {place[0]}", place[1]) if place else None
        if word in _DEMONSTRATIVES and _points_back(lower, i, named):
            return self.described_before(question, start)
        return None

    def described_before(self, question: str, at: int) -> _Replacement | None:
        """ "those tariffs" (a demonstrative at `at` and a noun phrase) → the earlier phrase with the same head
        noun and more words, most recent first ("the IEEPA tariffs"); None if there is none."""
        own = next(
            (p for p in self.phrases(question) if p.kind == "NOUN" and _next_word(question, at) == p.start), None
        )
        if own is None:
            return None
        head = terms(own.text.split()[-1])
        for index in reversed(range(len(self.turns))):
            for phrase in self.phrases(self.turns[index].question):
                longer = len(phrase.text.split()) > len(own.text.split())
                if phrase.thing and longer and terms(phrase.text.split()[-1]) == head:
                    return _Replacement(at, own.end, phrase.as_written(), index)
        return None

    def anchor_time(self, question: str) -> _Rewrite | None:
        """ "… in the year before?" → "… in the year before 2009?", the most recent date named; None if the
        question does not end in before/after/earlier/later or no earlier turn names a date."""
        stem = question.rstrip(" ?.!")
        last_word = _WORD.findall(stem)[-1:]
        if not last_word or last_word[0].lower() not in _RELATIVE_TIME:
            return None
        for index in reversed(range(len(self.turns))):
            turn = self.turns[index]
            dates = [p for p in self.phrases(turn.answer) + self.phrases(turn.question) if p.kind == "DATE"]
            if dates:
                return f"{stem} {dates[0].text}{question[len(stem) :] or '?'}", self.drawn_from(index)
        return None

    def add_topic(self, question: str) -> _Rewrite | None:
        """ "What are the main causes?" → "What are the main causes of <the topic>?"; "Why?" → "Why (<topic>)?"."""
        nouns = self.annotator.annotate(question).nouns
        own = {w.lower() for w in _WORD.findall(question)}
        for phrase, index in self.topics():
            if {w.lower() for w in _WORD.findall(phrase.text)} <= own:
                continue  # the question names it already ("What replaced those tariffs?")
            stem = question.rstrip(" ?.!")
            end = question[len(stem) :] or "?"
            ends_in_noun = any(n.end == len(stem) for n in nouns)
            topic = phrase.as_written()
            joined = f"{stem} of {topic}" if ends_in_noun else f"{stem} ({topic.removeprefix('the ')})"
            return joined + end, self.drawn_from(index)
        return None

    # --- what the turns name ---

    def referent(
        self, person: bool, plural: bool = False, nouns_only: bool = False, unless: set[str] | None = None
    ) -> _Found | None:
        """What a pronoun refers to, from the most recent turn that has one: a person for he/she (named in the
        answer, else the question); a thing for it/they (`things`), one in the pronoun's number first (`plural`:
        they, them, their); `nouns_only`: a thing a noun can stand for ("a new one"), not a name; never one of
        `unless`."""
        for index in reversed(range(len(self.turns))):
            turn = self.turns[index]
            if person:
                found = [p for p in self.answer_names(turn) + self.phrases(turn.question) if p.person]
            else:
                found = [p for p in self.things(index) if p.kind == "NOUN" or not nouns_only]
                found.sort(key=lambda p: (p.relational, p.plural != plural))  # stable: `things` order otherwise
            texts = [p.as_written() for p in found if p.as_written() not in (unless or set())]
            if texts:
                return texts[0], index
        return None

    def place(self) -> _Found | None:
        """What "there" refers to: the most recent place named, in an answer first."""
        for index in reversed(range(len(self.turns))):
            turn = self.turns[index]
            # the last place a question names is most likely what it was about: "… visit Mexico City?"
            places = [p for p in self.answer_names(turn) + self.phrases(turn.question)[::-1] if p.kind in _PLACES]
            if places:
                return places[0].text, index
        return None

    def things(self, index: int) -> list[_Phrase]:
        """What "it" may point at in a turn, most likely first: its answer when that is the name of a thing; then
        what its question was about: the phrase that recurs most in the conversation ("How does binge drinking
        affect development?" after "… effects of drinking?"), the one a "what"/"which" asks for ("What pipeline
        …"), the last ("… repair a garage door opener"). Then names spaCy typed as people (it types many products
        and places so: "Docker", "Boise"), unless the question asked "who"; relational ones ("the main causes")
        last."""
        turn = self.turns[index]
        answer = [p for p in self.answer_names(turn) if p.thing]
        asked_who = bool(_ASKS_WHO.match(turn.question))
        phrases = [p for p in self.phrases(turn.question) if p.thing or (p.person and not asked_who)]
        ranked = sorted(
            phrases,
            key=lambda p: (p.relational, p.person, -self.mentions(p), not _asked_about(turn.question, p), -p.start),
        )
        return answer + ranked

    def topics(self) -> list[tuple[_Phrase, int]]:
        """What the conversation is about, most likely first: the things that recur most, the earliest first (a
        conversation's topic is set when it opens: CAsT's rewrites add it more often than a recent aside)."""
        found = [(p, index) for index in range(len(self.turns)) for p in self.things(index)]
        return sorted(found, key=lambda pi: (pi[0].relational, -self.mentions(pi[0]), pi[1]))

    def mentions(self, phrase: _Phrase) -> int:
        """In how many turns all of the phrase's terms occur (as made standalone: "it" replaced by the pipeline
        is the pipeline mentioned again)."""
        wanted = set(terms(phrase.text))
        return sum(wanted <= turn for turn in self.turn_terms) if wanted else 0

    def answer_names(self, turn: _Standalone) -> list[_Phrase]:
        """The names in a turn's answer when the answer is a name ("Mark Carney", "Southeast Gateway"), else none.
        A short answer with a capital or a digit that spaCy finds no entity in is one name, a person's if the
        question asked "who"."""
        answer = " ".join(turn.answer.split()).rstrip(".")
        if not answer or len(answer.split()) > _NAME_WORDS:
            return []
        entities = [p for p in self.phrases(answer) if p.kind not in ("NOUN", "NAME")]
        if entities:
            return entities
        if not any(c.isupper() or c.isdigit() for c in answer):
            return []  # "the cochlear implant": not a name, so "it" is what the question was about
        asked_who = bool(_ASKS_WHO.match(turn.question))
        return [_Phrase(answer, "PERSON" if asked_who else "NAME", 0, len(answer))]

    def phrases(self, text: str) -> list[_Phrase]:
        if text not in self._phrases:
            self._phrases[text] = _phrases(text, self.annotator.annotate(text))
        return self._phrases[text]

    def drawn_from(self, index: int) -> frozenset[int]:
        """Turn `index` and the turns its own rewrite drew on: the words of a rewrite may come from any of them."""
        return self.turns[index].sources | {index}


def _same_kind(a: str, b: str) -> bool:
    """Whether two names are of one type; a name of unknown type ("Jared") may be of any but a value's."""
    return a == b or ("NAME" in (a, b) and not {a, b} & _VALUES)


def _after_continuation(question: str) -> str | None:
    """The question without its "And"/"What about"/"And how about" opening; None if it has none."""
    match = re.match(r"(?i)\s*(?:(?:and|but|so|also|or|plus)\b[\s,]*)?(?:(?:what|how)\s+about\b\s*)?", question)
    if not match or not match.group().strip():
        return None
    return question[match.end() :]


def _expletive(lower: list[str], i: int) -> bool:
    """Whether word `i` (of lower-cased words) is an "it" that stands for nothing ("It seems …", "make it",
    "How long does it take to …", "How much does it cost to …")."""
    if lower[i] != "it":
        return False
    if i and lower[i - 1] in _BEFORE_EXPLETIVE_IT:
        return True
    after = lower[i + 1] if i + 1 < len(lower) else ""
    if after in _COST_OR_TAKE:
        return "to" in lower[i + 2 : i + 5]
    return after in _AFTER_EXPLETIVE_IT


def _stands_for_a_noun(before: str, after: str) -> bool:
    """Whether "one" between these words stands for a noun: "a new one", "the smart ones", "which one is"; not
    "no one", "one of", "one week" (a number)."""
    return bool(before) and before not in _NOT_ONE and after != "of" and (not after or after in _FUNCTION)


def _next_word(text: str, at: int) -> int:
    """Where the word after the one at `at` starts (len(text) if none)."""
    match = _WORD_AND_SPACE.match(text, at)
    return match.end() if match else len(text)


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _asked_about(question: str, phrase: _Phrase) -> bool:
    """Whether `phrase` is what a wh-word asks for: "What pipeline …", "Which of the pipelines …"."""
    before = [w.lower() for w in _WORD.findall(question[: phrase.start])][-3:]
    return any(w in ("what", "which") and all(v in _FUNCTION for v in before[k + 1 :]) for k, w in enumerate(before))


def _phrases(text: str, annotation: Annotation) -> list[_Phrase]:
    """The entities and noun phrases of `text` in order. A noun phrase is a run of nouns and names joined by
    spaces, hyphens or "'s" ("garage door opener", "GMO Food labeling", "physician's assistant"), with the
    words between a determiner and it ("a smart one"); a text with neither gives its last content word
    ("What is taurine?", which spaCy tags an adjective)."""
    entities = [_without_lead(m) for m in annotation.entities]
    nouns = [n for n in annotation.nouns if n.text[:1].isalnum()]  # not a stray "’s" tagged a noun
    pieces = entities + [n for n in nouns if not any(e.start <= n.start < e.end for e in entities)]
    pieces += [
        Mention(m.start(), m.end(), "NAME", m.group())
        for m in _WORD.finditer(text)
        if _is_name(text, m) and not m.group().isdigit() and not any(p.start <= m.start() < p.end for p in pieces)
    ]
    pieces.sort(key=lambda m: m.start)
    runs: list[list[Mention]] = []
    for piece in pieces:
        joinable = runs and runs[-1][-1].label not in _VALUES and piece.label not in _VALUES
        if joinable and re.fullmatch(r"\s*(?:['’]s\s*|-)?\s*", text[runs[-1][-1].end : piece.start]):
            runs[-1].append(piece)
        else:
            runs.append([piece])
    # "According to the news article, …" names where to look, not what is asked about
    phrases = [_phrase(text, run) for run in runs]
    phrases = [p for p in phrases if not _ACCORDING_TO.search(text, 0, p.start)]
    defined = _DEFINED.search(text)
    if not phrases and defined:
        phrases = [_Phrase(defined.group(1), "NOUN", defined.start(1), defined.end(1))]
    return phrases


def _phrase(text: str, run: list[Mention]) -> _Phrase:
    start, end = run[0].start, run[-1].end
    if len(run) == 1 and run[0].label not in ("NOUN", "NAME"):
        return _Phrase(run[0].text, run[0].label, start, end)
    # modifiers between a determiner and the nouns: "the main causes", "a smart one"
    before = list(re.finditer(r"\S+", text[:start]))[-3:]
    for i, word in enumerate(before):
        modifiers = [w.group().lower() for w in before[i + 1 :]]
        if word.group().lower() in _DETERMINERS and all(w.isalpha() and w not in _FUNCTION for w in modifiers):
            start = before[i + 1].start() if modifiers else start
    head = run[-1]
    # a run of one entity type is that entity; of capitalised words spaCy gave no type, a name of unknown type
    # ("Prime Minister"); anything else a noun phrase ("Graeme Clark's wife", "GMO Food labeling")
    kind = run[0].label if all(m.label == run[0].label for m in run) and run[0].label != "NOUN" else "NOUN"
    return _Phrase(text[start:end], kind, start, end, relational=head.label == "NOUN" and _is_relational(head.text))


def _without_lead(entity: Mention) -> Mention:
    """An entity without the article or preposition spaCy sometimes takes in ("the US", "about 2023")."""
    text = re.sub(r"(?i)^(the|about|around|in|on|since|by|during)\s+", "", entity.text)
    return Mention(entity.end - len(text), entity.end, entity.label, text)


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in _SENTENCE_END
