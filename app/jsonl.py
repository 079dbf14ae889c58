"""JSON Lines, read and written in one place: the index, the evaluation set, reports and BEIR data.

Blank lines are skipped; a line that is not JSON is reported with its file and line number,
so a hand-edited evaluation set or a damaged index names the line to look at.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; ValueError "path:line: …" on bad JSON.

    A `.gz` file is read through gzip (the shared TREC CAsT turns come compressed).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc})") from None


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    """One JSON value per line, UTF-8 as is (no \\u escapes), so the files stay readable."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
