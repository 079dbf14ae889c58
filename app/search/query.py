"""Question + history → what is actually searched.

Transparent rules, no model:
- A question that carries instructions ("Ignore your rules and …. What was …?")
  is searched without the instruction sentences: they are not what the user
  wants to know about, and an answer quoted from the documents can't obey them.
- A follow-up carries the last `CONTEXT_TURNS` earlier turns into the query, each
  question with the short answer it got ("Who replaced him?" needs the name the
  last answer gave), at a weight below 1 (the `history_weight` setting): their
  vector is blended into the query vector and their words add to BM25.
- Only a question that needs them is a follow-up (`history_cue` says why); one
  that names its own subject is searched alone, as in a fresh chat, so a new
  topic mid-chat is not pulled towards the old one. A question needs them when:
  * a word points back: he, she, it, they, him, her, them, his, its, their,
    this, these, those, such, same, latter, else, then, other, another, ones.
    Not: he, she, they, his, its, their after a name in the same question
    ("Has Ottawa given its partner…"); "this year" (now, but "that year" is
    back); "each other". "that" unless it starts a clause ("said that…",
    "that the…", "that Canada…"); "there" unless existential ("is there",
    "there are"); "before", "after", "earlier", "later" ending the question
    ("in the year before?");
  * it opens like a continuation: "And …", "But …", "So …", "Also …", "Or …",
    "Plus …", "What about …", "How about …";
  * it names nothing: no capitalised word except at a sentence start (nor
    "I"), no acronym, no number ("Why?", "How much?", "What are the main
    causes?"), where "What pipeline did TC Energy finish in Mexico?" stands
    alone.
  On TREC CAsT's follow-ups (`askdocs eval cast`) these rules carry history
  into about nine in ten of the turns whose human rewrite adds words, and into
  two in three of those whose rewrite adds none: wrongly carrying costs little
  (it is weighted below the question), wrongly dropping loses the topic.
The result says what was searched, so the UI and CLI can show it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ResolvedQuery:
    question: str  # as asked
    search: str  # what retrieval and scoring use from the question itself
    context: str  # earlier questions and their short answers, carried in
    context_weight: float
    carried: tuple[str, ...] = ()  # the earlier questions whose turns are in `context`, oldest first

    def describe(self) -> str:
        if not self.context:
            return self.search
        return f"{self.search} [+ earlier turns ×{self.context_weight:g}: {self.context}]"


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


def history_cue(question: str) -> str:
    """Why `question` needs earlier turns: the word or rule ("it", "And …", "names nothing"); "" if it stands alone."""
    words, named = _words_and_names(question)
    lower = [w.lower() for w in words]
    pointing = next((word for i, word in enumerate(lower) if _points_back(lower, i, named)), "")
    if pointing:
        return pointing
    if lower[:1] and lower[0] in _CONTINUATION:
        return f"{words[0]} …"
    if lower[:2] in (["what", "about"], ["how", "about"]):
        return f"{words[0]} {words[1]} …"
    return "" if any(named) else "names nothing"


def _words_and_names(question: str) -> tuple[list[str], list[bool]]:
    """The question's words, and which name something: a capitalised word that does not start a sentence
    ("Who is Carney?"; not "I"), an acronym ("USMCA", "G7") or a number ("2009")."""
    words, named = [], []
    for match in _WORD.finditer(question):
        word = match.group()
        before = question[: match.start()].rstrip()
        starts_sentence = not before or before[-1] in _SENTENCE_END
        words.append(word)
        named.append(
            (word[0].isupper() and not starts_sentence and word != "I")
            or (len(word) > 1 and word.isupper())
            or word.isdigit()
        )
    return words, named


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


def resolve(question: str, history: Sequence[Turn], weight: float) -> ResolvedQuery:
    """What to search for `question`; the last earlier turns join it only when `history_cue` finds it needs them."""
    search = searchable_question(question)
    earlier = [turn for turn in history if turn.question.strip()][-CONTEXT_TURNS:] if history_cue(search) else []
    pieces = []
    for turn in reversed(earlier):  # most recent first
        pieces.append(searchable_question(turn.question))
        if turn.answer.strip():
            pieces.append(" ".join(turn.answer.split()))
    context = " ".join(pieces)
    carried = tuple(turn.question for turn in earlier) if context else ()
    return ResolvedQuery(question, search, context, weight if context else 0.0, carried)
