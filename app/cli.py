"""The `askdocs` command. Only argparse and the settings load at start, so `--help` is fast;
each command imports the heavy parts it needs. Domain errors become one-line messages here.

`ask` and `search` first look for a running `askdocs serve` at the settings' host, port and root
path (app/serve/client.py) and let it answer: no model or index to load, so they take a moment
instead of half a minute. Without one (or with `--local`) they load only what they use: a search
never loads the reader, and a BM25 search not the embedding model either.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from app.errors import AskdocsError
from app.settings import ANSWERERS, RETRIEVAL_MODES, Settings, load_settings
from app.types import CLOSEST_PASSAGES, Answer, Turn

if TYPE_CHECKING:
    from app.answer.reader_answer import ReaderAnswerer
    from app.assistant import Assistant
    from app.serve.client import AskdocsServer

T = TypeVar("T")


class Asker(Protocol):
    """What `ask` needs, from a local `Assistant` or a running server (`AskdocsServer`) alike."""

    def ask(
        self, question: str, history: Sequence[Turn] = (), answerer: str | None = None, k: int | None = None
    ) -> Answer: ...

    def replay(self, questions: Sequence[str], answerer: str | None = None, k: int | None = None) -> list[Turn]: ...


EXAMPLES = """examples:
  askdocs index                                     build or update the index from corpus/
  askdocs search "How much was bilateral trade in 2024?"
  askdocs ask "How long is the Southeast Gateway pipeline?"
  askdocs ask "How long is it?" --history "What pipeline did TC Energy finish?"
  askdocs ask "Who won the 2024 Stanley Cup?" --json   compact JSON (--full: every field)
  askdocs eval --set eval/questions.jsonl           score the evaluation set
  askdocs serve --port 7860                         chat UI, JSON API and widget
settings: askdocs.toml in the working directory (or --settings FILE), then ASKDOCS_* variables.
ask and search use a running `askdocs serve` at the settings' host and port when there is one (--local: never).
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
    index.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="read, chunk and embed on a Ray cluster: 'local' (start one here), 'auto' or host:port "
        "(default: the ray_address setting; needs the scale extra)",
    )
    index.set_defaults(run=cmd_index)

    search = commands.add_parser("search", help="print the passages retrieved for a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, help="how many passages (default: top_k setting)")
    search.add_argument("--mode", choices=RETRIEVAL_MODES, help="retriever (default: setting)")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.add_argument("--local", action="store_true", help="load the index here even when a server is running")
    search.set_defaults(run=cmd_search)

    ask = commands.add_parser("ask", help="answer a question with quoted, cited sentences")
    ask.add_argument("question")
    ask.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="EARLIER_QUESTION",
        help="an earlier question of the same conversation (repeat, oldest first); each is answered again first",
    )
    ask.add_argument("--answerer", choices=ANSWERERS, help="default: answerer setting")
    ask.add_argument("-k", type=int, help="passages to retrieve (default: top_k setting)")
    ask.add_argument(
        "--json",
        action="store_true",
        help=f"print the Answer as compact JSON: no passages (its {CLOSEST_PASSAGES} closest, in brief, if not found)",
    )
    ask.add_argument("--full", action="store_true", help="print the whole Answer as JSON, every passage in full")
    ask.add_argument("--local", action="store_true", help="load the index here even when a server is running")
    ask.set_defaults(run=cmd_ask)

    evaluate = commands.add_parser(
        "eval",
        help="score an evaluation set (or: eval compare A B, eval beir DIR)",
        description="Run every item of an evaluation set through the assistant and print the metrics.",
    )
    evaluate.add_argument("--set", type=Path, default=Path("eval/questions.jsonl"), help="JSONL evaluation set")
    evaluate.add_argument("--split", default="all", help="dev, test or all (default: all)")
    evaluate.add_argument("--limit", type=int, help="only the first N items (a quick look)")
    evaluate.add_argument("--answerer", choices=ANSWERERS, help="default: answerer setting")
    evaluate.add_argument("-k", "--k", type=int, help="passages the answer draws on (default: top_k setting)")
    evaluate.add_argument("--label", help="name for the report folder (default: answerer and split)")
    evaluate.add_argument("--reports", type=Path, default=Path("eval/reports"), help="where reports go")
    evaluate.add_argument("--gate", type=Path, help="TOML file of minimum metrics; exit 1 when any is missed")
    evaluate.set_defaults(run=cmd_eval)
    eval_commands = evaluate.add_subparsers(title="more", metavar="")
    compare = eval_commands.add_parser("compare", help="metric deltas and flipped items between two reports")
    compare.add_argument("report_a", type=Path)
    compare.add_argument("report_b", type=Path)
    compare.set_defaults(run=cmd_eval_compare)
    sweep = eval_commands.add_parser("sweep", help="choose chunking, fusion, k and abstention on the dev split")
    sweep.add_argument("--set", type=Path, default=Path("eval/questions.jsonl"), help="JSONL evaluation set")
    sweep.add_argument("--split", default="dev", help="the split to tune on (default: dev)")
    sweep.add_argument(
        "--answerer", choices=("reader", "extractive"), default="reader", help="whose settings to tune (default reader)"
    )
    sweep.set_defaults(run=cmd_eval_sweep)
    beir = eval_commands.add_parser("beir", help="retrieval metrics on a BEIR-format data set")
    beir.add_argument("directory", type=Path, help="holds corpus.jsonl, queries.jsonl, qrels/test.tsv")
    beir.add_argument("--cache", type=Path, help="where to keep its index between runs")
    beir.add_argument("--split", default="test", help="qrels split to report (default: test)")
    beir.add_argument("--tune", action="store_true", help="tune the hybrid weight on the train split first")
    beir.set_defaults(run=cmd_eval_beir)

    squad = eval_commands.add_parser("squad", help="the reader's held-out SQuAD figures (its model card's)")
    squad.add_argument("data", type=Path, help="folder with squad-v1.1-train.json.gz (../shared/qa-data)")
    squad.add_argument("--questions", type=int, default=400, help="held-out questions to read (default 400)")
    squad.set_defaults(run=cmd_eval_squad)
    cast = eval_commands.add_parser("cast", help="how much of a follow-up's rewrite reaches the searched query")
    cast.add_argument("data", type=Path, help="folder with trec-cast-turns.jsonl.gz (../shared/qa-data)")
    cast.set_defaults(run=cmd_eval_cast)

    train = commands.add_parser(
        "train-reader",
        help="train the reader from the packaged MiniLM on SQuAD, export it to ONNX int8",
        description="Train (or resume) the reader, export it into the package and print its held-out figures.",
    )
    train.add_argument("--data", type=Path, required=True, help="folder with squad-v1.1-train.json.gz")
    train.add_argument("--out", type=Path, default=Path("runs/reader"), help="checkpoints and logs (resumable)")
    train.add_argument("--model-dir", type=Path, help="where the exported model goes (default: the package's)")
    train.add_argument("--questions", type=int, default=16_000, help="training questions (default 16000)")
    train.add_argument("--skip-questions", type=int, default=0, help="start after this many (continue on new ones)")
    train.add_argument(
        "--init-from",
        type=Path,
        help="a transformers reader folder, or an exported int8 reader (model.onnx) dequantized, to start from "
        "(default: MiniLM)",
    )
    train.add_argument(
        "--resume-from", type=Path, help="a training checkpoint (with training_state.json) to continue; same recipe"
    )
    train.add_argument("--checkpoint", type=Path, help="also save the result here in float16, to continue from later")
    train.add_argument("--bf16", action="store_true", help="train under bf16 autocast")
    train.add_argument("--learning-rate", type=float, default=1e-4, help="peak AdamW learning rate (default 1e-4)")
    train.add_argument("--held-out", type=int, default=20, help="articles kept out for the figures (default 20)")
    train.add_argument("--seed", type=int, default=13)
    train.set_defaults(run=cmd_train_reader)

    calibrate = commands.add_parser(
        "calibrate-reader",
        help="fit the reader's confidence on SQuAD questions it never trained on (calibration.json)",
        description="Reads unused training-article questions (gold, perturbed, near-miss) and fits the "
        "logistic regression behind the answer's confidence.",
    )
    calibrate.add_argument("--data", type=Path, required=True, help="folder with squad-v1.1-train.json.gz")
    calibrate.add_argument("--model-dir", type=Path, help="the exported reader (default: the package's)")
    calibrate.add_argument(
        "--checkpoint",
        type=Path,
        default=Path(__file__).resolve().parent / "answer" / "reader_model" / "checkpoint",
        help="the training checkpoint whose state says how many questions training used",
    )
    calibrate.add_argument(
        "--skip-questions", type=int, help="use questions after this many (default: the checkpoint's)"
    )
    calibrate.add_argument("--questions", type=int, default=1500, help="questions to read (default 1500)")
    calibrate.add_argument(
        "--features",
        nargs="+",
        help="what the confidence combines: of score, typed, mistyped, agreement, coverage (default: all; "
        "`score` alone keeps the reader's order of answers)",
    )
    calibrate.set_defaults(run=cmd_calibrate_reader)

    serve = commands.add_parser("serve", help="serve the chat UI and JSON API (builds the index if missing)")
    serve.add_argument("--host", help="interface to bind (default: host setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: port setting, 7860)")
    serve.set_defaults(run=cmd_serve)

    bench = commands.add_parser(
        "bench",
        help="encoder speed, build, load, search and answer times, memory, by corpus size",
        description="Benchmark on the corpus and on synthetic corpora; writes OUT/benchmarks.md and a plot.",
    )
    bench.add_argument("--questions", type=int, default=100, help="how many questions to time (default 100)")
    bench.add_argument("--sizes", type=_sizes, help="synthetic corpora, in chunks: 10000,100000 (default)")
    bench.add_argument("--large", action="store_true", help="add a synthetic corpus of a million chunks")
    bench.add_argument("--rounds", type=int, default=3, help="interleaved encoder rounds (default 3)")
    bench.add_argument("--out", type=Path, default=Path("docs"), help="where benchmarks.md and .png go (default docs)")
    bench.add_argument(
        "--ray",
        action="store_true",
        help="instead: index build throughput on a local Ray cluster of 1 node and of 2 (1 CPU each)",
    )
    bench.add_argument(
        "--ray-chunks", type=int, default=10_000, help="chunks in --ray's corpus, at least (default 10000)"
    )
    bench.set_defaults(run=cmd_bench)
    return parser


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from app.index.build import build_index

    if args.ray:
        settings = settings.replace(ray_address=args.ray)
    on = f" on the Ray cluster at {settings.ray_address}" if settings.ray_address else ""
    print(f"indexing {settings.corpus_dir}/ into {settings.index_dir}/{on} …", file=sys.stderr)
    report = build_index(settings, progress=sys.stderr.isatty())
    for problem in report.problems:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    print(
        f"indexed {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s → {report.path}"
    )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    mode = args.mode or settings.retrieval_mode
    k = args.k or settings.top_k
    passages = _on_server(args, settings, lambda server: server.search(args.question, k, mode))
    if passages is None:
        passages = _load(settings).retrieve(args.question, k, mode)
    if args.json:
        _print_json([p.to_dict() for p in passages])
        return 0
    for p in passages:
        c = p.chunk
        where = " > ".join((c.title, *c.headings)) + (f", p. {c.page}" if c.page else "")
        print(f"[{p.rank}] {p.score:.3f}  {c.id}  [{c.start}:{c.end}]  {where}")
        print("    " + " ".join(c.text.split())[:400])
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    answerer = args.answerer or settings.answerer
    k = args.k or settings.top_k

    def ask(asker: Asker) -> Answer:
        # the earlier questions are asked again, as the chat did, so a follow-up knows what they were answered
        history = asker.replay(args.history, answerer, k)
        return asker.ask(args.question, history=history, answerer=answerer, k=k)

    answer = _on_server(args, settings, ask)
    if answer is None:
        answer = ask(_load(settings))
    if args.json or args.full:
        _print_json(answer.to_dict(full=args.full))
        return 0
    print(answer.text)
    print()
    for c in answer.citations:
        page = f", p. {c.page}" if c.page else ""
        print(f"[{c.marker}] {c.title}{page} — {c.doc_id} [{c.start}:{c.end}] (support {c.support:.2f})")
    if answer.abstained:
        print("Closest passages:")
        for p in answer.passages[:CLOSEST_PASSAGES]:
            print(f"  {p.chunk.title} — {p.chunk.id}: " + " ".join(p.chunk.text.split())[:200])
    for note in answer.notes:
        print(f"note: {note}")
    if answer.query != args.question:
        print(f"searched: {answer.query}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation.report import write_report
    from app.evaluation.run import (
        ask_as_chat,
        check_thresholds,
        format_summary,
        load_eval_set,
        load_thresholds,
        run_eval,
    )

    items = load_eval_set(args.set, args.split)
    if args.limit is not None:
        if args.limit < 1:
            raise AskdocsError("--limit must be at least 1")
        items = items[: args.limit]
    thresholds = load_thresholds(args.gate) if args.gate else None
    answerer = args.answerer or settings.answerer
    assistant = _load(settings)
    label = args.label or f"{answerer}-{args.split}"
    run = run_eval(
        ask_as_chat(assistant, answerer, args.k),
        items,
        label,
        settings={**vars(settings), "answerer": answerer, "k": args.k or settings.top_k, "set": str(args.set)},
        progress=sys.stderr.isatty(),
    )
    folder = write_report(run, args.reports)
    print(format_summary(run.summary, f"{label}: {len(items)} items from {args.set}"))
    print(f"report: {folder}/report.html")
    if thresholds is not None:
        failures = check_thresholds(run.summary, thresholds)
        for failure in failures:
            print(f"GATE FAILED: {failure}", file=sys.stderr)
        if failures:
            return 1
        print(f"gate passed: every metric in {args.gate} is met")
    return 0


def cmd_eval_compare(args: argparse.Namespace, _settings: Settings) -> int:
    from app.evaluation.report import compare_reports

    print(compare_reports(args.report_a, args.report_b))
    return 0


def cmd_eval_sweep(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation.sweep import run_reader_sweep, run_sweep

    sweep = run_reader_sweep if args.answerer == "reader" else run_sweep
    print(sweep(settings, args.set, args.split))
    return 0


def cmd_eval_beir(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation.beir import beir_command

    print(beir_command(args.directory, settings, args.cache, args.split, args.tune))
    return 0


def cmd_eval_squad(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation.squad import far_questions, held_out_articles, reader_figures

    held_out = held_out_articles(args.data)  # SQuAD is read once for both figures
    print(reader_figures(_squad_answerer(settings), held_out, args.questions).to_markdown())
    assistant = _load(settings)
    far = far_questions(held_out)
    refused = sum(assistant.ask(question).abstained for question in far)
    print(f"\nfar questions (held-out SQuAD, asked of {settings.corpus_dir}/): {refused} of {len(far)} refused")
    return 0


def _squad_answerer(settings: Settings, model_dir: Path | None = None, calibrated: bool = True) -> ReaderAnswerer:
    """The reader answerer as the assistant builds it, for paragraphs outside any index (SQuAD's)."""
    from app.answer.calibration import UNCALIBRATED
    from app.answer.reader import MODEL_DIR, Reader, load_calibration
    from app.answer.reader_answer import ReaderAnswerer
    from app.ingest.annotate import Annotator

    model_dir = model_dir or MODEL_DIR
    calibration = load_calibration(model_dir) if calibrated else UNCALIBRATED
    reader = Reader(model_dir, settings.reader_threads)
    return ReaderAnswerer(reader, calibration, settings.reader_threshold, 0.0, {}, Annotator())


def cmd_calibrate_reader(args: argparse.Namespace, settings: Settings) -> int:
    from app.answer.calibration import CALIBRATION_FILE, FEATURES, fit
    from app.answer.reader import CHECKSUMS_FILE, MODEL_DIR
    from app.answer.training import TRAINING_STATE
    from app.evaluation.squad import calibration_candidates
    from app.index.store import file_hash

    model_dir = args.model_dir or MODEL_DIR
    features = args.features or list(FEATURES)
    if set(features) - set(FEATURES):
        raise AskdocsError(f"--features: each one of {', '.join(FEATURES)}")
    skip = args.skip_questions
    if skip is None:
        state = json.loads((args.checkpoint / TRAINING_STATE).read_text(encoding="utf-8"))
        skip = max(stage["questions"][1] for stage in state["stages"])
    answerer = _squad_answerer(settings, model_dir, calibrated=False)
    print(f"reading {args.questions} training-article questions after the first {skip} …", file=sys.stderr)
    candidates, right = calibration_candidates(answerer, args.data, skip, args.questions)
    described = f"{len(candidates)} candidates ({sum(right)} right) of SQuAD questions {skip}–{skip + args.questions}"
    calibration = fit(candidates, right, described + " of the seeded order, never trained on", features)
    calibration.save(model_dir / CALIBRATION_FILE)
    checksums = json.loads((model_dir / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    checksums[CALIBRATION_FILE] = file_hash(model_dir / CALIBRATION_FILE)
    (model_dir / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n", encoding="utf-8")
    print(f"{described}: weights {dict(zip(FEATURES, calibration.weights, strict=True))}, bias {calibration.bias:.3f}")
    return 0


def cmd_eval_cast(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation.cast import cast_figures

    print(cast_figures(args.data, settings.history_weight).to_markdown())
    return 0


def cmd_train_reader(args: argparse.Namespace, settings: Settings) -> int:
    from app.answer.reader import MODEL_DIR
    from app.answer.training import TrainConfig, export_reader, recover_from_onnx, save_checkpoint, train
    from app.evaluation.squad import held_out_articles, reader_figures

    base = args.init_from
    if base is not None and (base / "model.onnx").is_file():
        base = recover_from_onnx(base, args.out / "init-dequantized")
    config = TrainConfig(
        data_dir=args.data,
        output_dir=args.out,
        questions=args.questions,
        skip_questions=args.skip_questions,
        base_model=str(base or ""),
        resume_from=str(args.resume_from or ""),
        learning_rate=args.learning_rate,
        held_out_articles=args.held_out,
        seed=args.seed,
        bf16=args.bf16,
    )
    print(f"training into {args.out}/ (a second run resumes from its last checkpoint) …", file=sys.stderr)
    trained = train(config)
    if args.checkpoint:
        save_checkpoint(trained, args.checkpoint)
    model_dir = args.model_dir or MODEL_DIR
    checksums = export_reader(trained, model_dir)
    print(f"exported to {model_dir}/: " + ", ".join(f"{name} {digest[:12]}…" for name, digest in checksums.items()))
    held_out = held_out_articles(args.data, config)
    answerer = _squad_answerer(settings, model_dir, calibrated=False)  # calibrate-reader fits its calibration next
    print(reader_figures(answerer, held_out, seed=config.seed).to_markdown())
    return 0


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.assistant import Assistant
    from app.serve.api import create_app

    settings = settings.replace(**{k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    settings = settings.serving()  # one onnxruntime thread per request: requests run in parallel instead
    if settings.host not in LOOPBACK_HOSTS and not settings.access_token:
        uploads = ", and add or delete documents" if settings.allow_uploads else ""
        print(
            f"warning: listening on {settings.host} with no access_token: anyone who can reach port "
            f"{settings.port} can ask questions and read every document{uploads}; set access_token "
            "(docs/embedding.md)",
            file=sys.stderr,
        )
    print(
        f"loading the index from {settings.index_dir}/ (building it first if missing or the corpus changed) …",
        file=sys.stderr,
    )
    assistant = Assistant.load(settings, build_if_missing=True, rebuild_if_stale=True)
    report = assistant.load_report
    print(
        f"ready in {report.seconds:.1f} s{' (index built)' if report.built else ''}: "
        f"{assistant.index.manifest.counts['chunks']} chunks; new builds (`askdocs index`) are picked up live; "
        f"requests run in parallel, each model on {settings.serve_threads} onnxruntime thread(s) (serve_threads)",
        file=sys.stderr,
    )
    print(f"serving on http://{settings.host}:{settings.port}{settings.root_path}/", file=sys.stderr)
    uvicorn.run(create_app(assistant), host=settings.host, port=settings.port, log_level="warning")
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.ray:
        from app.evaluation.bench_cluster import bench_cluster_build

        if args.ray_chunks < 1:
            raise AskdocsError("--ray-chunks must be at least 1")
        print(bench_cluster_build(settings, args.ray_chunks))
        return 0
    from app.evaluation.bench import bench_command

    print(bench_command(settings, args.sizes, args.large, args.questions, args.rounds, args.out))
    return 0


def _sizes(text: str) -> tuple[int, ...]:
    """ "10000,100000" → (10000, 100000); argparse reports a ValueError as a usage error."""
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise ValueError(text)
    return sizes


def _on_server(args: argparse.Namespace, settings: Settings, use: Callable[[AskdocsServer], T]) -> T | None:
    """`use(server)` when an askdocs server is running at the settings' address (and not --local), else None.

    Which server answered goes to stderr; a server that fails is reported there too, and the caller
    answers locally instead.
    """
    if args.local:
        return None
    from app.serve.client import AskdocsServer, ServerError

    server = AskdocsServer.find(settings)
    if server is None:
        return None
    with server:
        try:
            result = use(server)
        except ServerError as exc:
            print(f"askdocs: the server at {server.base_url} did not answer ({exc}); answering here", file=sys.stderr)
            return None
    print(f"answered by the askdocs server at {server.base_url} (--local to load the index here)", file=sys.stderr)
    return result


def _load(settings: Settings) -> Assistant:
    """The assistant for `settings`. A command asks once, so nothing is warmed up: each model loads when
    first used, and one a command doesn't use (the reader for a search, the embedder for BM25) never does."""
    from app.assistant import Assistant

    assistant = Assistant.load(settings, warm_up=())
    if assistant.load_report.stale:
        changes = ", ".join(assistant.load_report.stale[:5])
        print(f"note: the corpus changed since the index was built ({changes}); run `askdocs index`", file=sys.stderr)
    return assistant


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
