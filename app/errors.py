"""Domain errors. Each subclasses a built-in, so callers can catch either.

The CLI turns them into one-line messages and an exit code; the HTTP API into
status codes. Messages say what went wrong and, where there is one, what to run.
"""


class AskdocsError(Exception):
    """Base class for every error this package raises on purpose."""


class SettingsError(AskdocsError, ValueError):
    """A settings file or environment variable is unknown or has a bad value."""


class DocumentError(AskdocsError, ValueError):
    """A corpus file cannot be read as a document (empty, binary, too large, …)."""


class IndexMissingError(AskdocsError, FileNotFoundError):
    """No index has been built yet."""


class IndexCorruptError(AskdocsError, ValueError):
    """An index file is missing, truncated or altered."""


class IndexMismatchError(AskdocsError, ValueError):
    """The index was built with other settings (model, chunking) than the ones in force."""


class BuildLockedError(AskdocsError, RuntimeError):
    """Another process is building the index right now."""


class QuestionError(AskdocsError, ValueError):
    """A question or its history is empty, too long or malformed."""


class DocumentNotFoundError(AskdocsError, KeyError):
    """No document with that id is in the index."""

    def __str__(self) -> str:  # KeyError would print the repr with quotes
        return str(self.args[0]) if self.args else "document not found"


class ModelError(AskdocsError, ValueError):
    """A model shipped with the package (the reader) is missing or damaged."""


class TrainingError(AskdocsError, ValueError):
    """A training run can't start as asked (a checkpoint made with another recipe, say)."""


class ClusterError(AskdocsError, RuntimeError):
    """The Ray cluster can't be reached, isn't installed, or lost more of itself than Ray's retries cover."""
