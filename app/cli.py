"""The `askdocs` command. Only argparse and the settings load at start, so `--help` is fast;
each command imports the heavy parts it needs. Domain errors become one-line messages here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.errors import AskdocsError
from app.settings import Settings, load_settings

EXAMPLES = """examples:
  askdocs index                                     build or update the index from corpus/
  askdocs search "How much was bilateral trade in 2024?"
  askdocs ask "How long is the Southeast Gateway pipeline?"
  askdocs ask "How long is it?" --history "What pipeline did TC Energy finish?"
  askdocs eval --set eval/questions.jsonl           score the evaluation set
  askdocs serve --port 7860                         chat UI, JSON API and widget
settings: askdocs.toml in the working directory (or --settings FILE), then ASKDOCS_* variables.
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    try:
        settings = load_settings(args.settings)
        result: int = args.run(args, settings)
        return result
    except AskdocsError as exc:
        print(f"askdocs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="askdocs",
        description="Answer questions about a folder of documents, with citations you can check.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--settings", type=Path, help="TOML settings file (default: ./askdocs.toml if present)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    index = commands.add_parser("index", help="build or update the index from the corpus folder")
    index.set_defaults(run=cmd_index)

    search = commands.add_parser("search", help="print the passages retrieved for a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, help="how many passages (default: top_k setting)")
    search.add_argument("--mode", choices=["dense", "bm25", "hybrid"], help="retriever (default: setting)")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.set_defaults(run=cmd_search)

    serve = commands.add_parser("serve", help="serve the chat UI and JSON API (builds the index if missing)")
    serve.add_argument("--host", help="interface to bind (default: host setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: port setting, 7860)")
    serve.set_defaults(run=cmd_serve)

    bench = commands.add_parser("bench", help="time an index build and retrieval over many questions")
    bench.add_argument("--questions", type=int, default=100, help="how many questions to time (default 100)")
    bench.set_defaults(run=cmd_bench)
    return parser


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from app.indexer import build_index

    print(f"indexing {settings.corpus_dir}/ into {settings.index_dir}/ …", file=sys.stderr)
    report = build_index(settings, progress=sys.stderr.isatty())
    for problem in report.problems:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    print(
        f"indexed {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s → {report.path}"
    )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _load(settings)
    passages = assistant.retrieve(args.question, k=args.k, mode=args.mode)
    if args.json:
        _print_json([p.to_dict() for p in passages])
        return 0
    for p in passages:
        c = p.chunk
        where = " > ".join((c.title, *c.headings)) + (f", p. {c.page}" if c.page else "")
        print(f"[{p.rank}] {p.score:.3f}  {c.id}  [{c.start}:{c.end}]  {where}")
        print("    " + " ".join(c.text.split())[:400])
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.api import create_app
    from app.assistant import Assistant

    settings = settings.replace(**{k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    print(f"loading the index from {settings.index_dir}/ (building it first if missing) …", file=sys.stderr)
    assistant = Assistant.load(settings, build_if_missing=True)
    report = assistant.load_report
    print(
        f"ready in {report.seconds:.1f} s{' (index built)' if report.built else ''}: "
        f"{assistant.index.manifest.counts['chunks']} chunks",
        file=sys.stderr,
    )
    if report.stale:
        print("note: the corpus changed since the index was built; run `askdocs index`", file=sys.stderr)
    print(f"serving on http://{settings.host}:{settings.port}{settings.root_path}/", file=sys.stderr)
    uvicorn.run(create_app(assistant), host=settings.host, port=settings.port, log_level="warning")
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from app.bench import run_core_bench

    print(run_core_bench(settings, n_questions=args.questions))
    return 0


def _load(settings: Settings) -> Any:
    from app.assistant import Assistant

    assistant = Assistant.load(settings)
    if assistant.load_report.stale:
        changes = ", ".join(assistant.load_report.stale[:5])
        print(f"note: the corpus changed since the index was built ({changes}); run `askdocs index`", file=sys.stderr)
    return assistant


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
