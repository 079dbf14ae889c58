"""Serving throughput: answers/s of a real `askdocs serve` by concurrent clients, per thread setting.

Each setting gets its own server, a subprocess started as `askdocs serve` starts (`python -m app.cli serve`
on a free port of 127.0.0.1, the corpus indexed into a temporary folder), and clients POST /api/ask with
the evaluation set's questions, each client cycling through them from its own offset. The settings
compared are `serve_threads` as configured (one onnxruntime thread per session by default: requests run in
parallel on the server's threads) and two threads per session (how the server ran before: one request used
both cores of this machine). Both servers are up at once and the measurements are interleaved in rounds, so
a change of the machine's load falls on both alike; every rate is also given as a ratio to one client of
the same setting, with the load average beside it.

    python -m app.evaluation.bench_serving                        # this section alone (60-100 s)
    python -m app.evaluation.bench_serving --rounds 6 --seconds 4 # steadier figures, longer
    python -m app.evaluation.bench_serving --processes            # threads of one server against two servers
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.evaluation.metrics import percentile
from app.settings import Settings, load_settings

CLIENTS = (1, 2, 4)
SECONDS = 2.5  # per round, per setting and number of clients
ROUNDS = 3  # short rounds, interleaved: a burst of other work on the machine falls on every level alike
GIL_QUESTIONS = 20
RAMP_S = 0.5  # before each window: every client has a request under way
OLD_THREADS = 2  # onnxruntime threads per session before serve_threads (encoder_threads and the reader's)
STARTUP_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Level:
    """One setting at one number of clients, over every round."""

    threads: int  # onnxruntime intra-op threads per session
    clients: int
    answers: int
    errors: int
    seconds: float
    latencies_s: tuple[float, ...]
    server_cpu_s: float  # CPU time the server process used in the window, all its threads

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    @property
    def cores(self) -> float:
        """How many cores the server kept busy on average."""
        return self.server_cpu_s / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def cpu_s(self) -> float:
        """The process's user + system CPU time so far, all threads (/proc/<pid>/stat), 0 where unreadable."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


@dataclass(frozen=True)
class GilShare:
    """Where one request's time goes, in this process, one question after another (cProfile)."""

    answers: int
    ms_per_answer: float  # under the profiler
    released: float  # share of the time inside onnxruntime's and FAISS's calls, which release the GIL


@dataclass(frozen=True)
class ServingRun:
    levels: tuple[Level, ...]
    gil: GilShare
    questions: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    seconds: float


def measure_serving(
    settings: Settings,
    questions: Sequence[str],
    clients: Sequence[int] = CLIENTS,
    seconds: float = SECONDS,
    rounds: int = ROUNDS,
) -> ServingRun:
    """Start one server per thread setting and measure every number of clients against each, interleaved."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    counts = ", ".join(map(str, clients))
    print(f"serving: a server per thread setting, {counts} clients, {rounds} rounds …", file=sys.stderr, flush=True)
    settings_threads = sorted({settings.serve_threads, OLD_THREADS})
    found: dict[tuple[int, int], list[Level]] = {}
    with tempfile.TemporaryDirectory(prefix="askdocs-bench-serving-") as tmp, contextlib.ExitStack() as stack:
        index_dir = Path(tmp) / "index"
        servers = {}
        for threads in settings_threads:  # one after the other: the first builds the index, the second reuses it
            servers[threads] = stack.enter_context(_server(settings, index_dir, threads))
        for server in servers.values():
            _ask_all(server, questions[:8], 1, 0.0)  # warm up: first requests, connections, thread pools
        gil = gil_share(settings.replace(index_dir=index_dir).serving(), questions[:GIL_QUESTIONS])
        for _ in range(rounds):
            for n in clients:
                for threads, server in servers.items():
                    found.setdefault((threads, n), []).append(_ask_all(server, questions, n, seconds, threads))
    levels = tuple(_merge(parts) for _, parts in sorted(found.items()))
    return ServingRun(levels, gil, len(questions), load_before, os.getloadavg(), time.perf_counter() - started)


def gil_share(settings: Settings, questions: Sequence[str]) -> GilShare:
    """Answer `questions` in this process under cProfile: the share of the time in onnxruntime and FAISS.

    The rest holds the GIL (tokenizers counted there too, to be safe); the profiler's own cost falls on the
    Python side, so the GIL-held share it gives is an upper bound.
    """
    import cProfile
    import pstats

    from app.assistant import Assistant

    assistant = Assistant.load(settings)
    for question in questions[:3]:
        assistant.ask(question)  # warm up
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    for question in questions:
        assistant.ask(question).to_dict()
    profile.disable()
    wall = time.perf_counter() - began
    assistant.index.unpin()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    # C functions are keyed ("~", 0, "<built-in method onnxruntime…run>"); tottime is the time inside them
    released = sum(
        row[2] for (file, _, name), row in stats.items() if file == "~" and ("onnxruntime" in name or "faiss" in name)
    )
    return GilShare(len(questions), wall / len(questions) * 1000, released / wall if wall else 0.0)


def format_serving(run: ServingRun, configured: int, seconds: float = SECONDS, rounds: int = ROUNDS) -> str:
    """The Markdown section: answers/s by clients for each setting, as a ratio to one client of it."""
    lines = [
        "## Serving throughput (a real `askdocs serve`, POST /api/ask, the reader answerer)",
        "",
        f"{load_span(run.load_before, run.load_after)} "
        f"({os.cpu_count()} cores). {run.questions} questions of the evaluation set, each client cycling through "
        f"them; {rounds} interleaved rounds of {seconds:g} s per setting and number of clients; {run.seconds:.0f} s.",
        "",
        f"Where a request's time goes (one process, {run.gil.answers} questions one after another, under cProfile, "
        f"{run.gil.ms_per_answer:.0f} ms each): {run.gil.released:.0%} inside onnxruntime and FAISS, which release "
        f"the GIL; at most {1 - run.gil.released:.0%} holds it (Python, tokenizers, and the profiler's own cost).",
        "",
        "| onnxruntime threads per session | clients | answers/s | × 1 client | × 1 client as before "
        "| p50 / p95 | server CPU | answers per CPU-second | answers | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    before = next((x for x in run.levels if x.threads == OLD_THREADS and x.clients == 1), None)
    for level in run.levels:
        one = next(x for x in run.levels if x.threads == level.threads and x.clients == 1)
        name = f"{level.threads} (serve_threads{', as configured' if level.threads == configured else ''})"
        if level.threads == OLD_THREADS and level.threads != configured:
            name = f"{level.threads} (as before serve_threads)"
        latency = sorted(level.latencies_s)
        p50, p95 = (percentile(latency, p) * 1000 for p in (50, 95))
        lines.append(
            f"| {name} | {level.clients} | {level.rate:.1f} | {level.rate / one.rate:.2f}× "
            f"| {_ratio(level.rate, before)} "
            f"| {p50:.0f} / {p95:.0f} ms | {level.cores:.2f} cores | {_per(level.answers, level.server_cpu_s)} "
            f"| {level.answers} | {level.errors} |"
        )
    lines += [
        "",
        "Latency is each request's, at the client (nearest-rank percentiles). Server CPU: the server process's "
        "CPU time over the window (all its threads), in cores kept busy, and answers per CPU-second of it (what "
        "an answer costs, whatever else runs on the machine); the clients run in the benchmark's own process on "
        "the same cores. The server answers requests in parallel on its threads; onnxruntime and FAISS release "
        "the GIL while they run. On a machine busy with other work the server gets only part of the cores, so "
        "its rates drop and the ratios show what it can still add by running requests side by side.",
    ]
    return "\n".join(lines)


def serving_section(
    settings: Settings,
    questions: Sequence[str],
    out: Path | None = None,
    clients: Sequence[int] = CLIENTS,
    seconds: float = SECONDS,
    rounds: int = ROUNDS,
) -> str:
    """Measure and format; with `out`, append the section to OUT/benchmarks.md (`askdocs bench`)."""
    run = measure_serving(settings, questions, clients, seconds, rounds)
    section = format_serving(run, settings.serve_threads, seconds, rounds)
    if out is not None and (out / "benchmarks.md").exists():
        with open(out / "benchmarks.md", "a", encoding="utf-8") as report:
            report.write(f"\n{section}\n")
    return f"\n\n{section}"


def processes_section(settings: Settings, questions: Sequence[str], seconds: float, rounds: int) -> str:
    """Threads in one process against processes: is the GIL what limits two requests at once?

    Two servers on one onnxruntime thread each; in every round, one client on the first (the baseline),
    two clients on the first (two requests at once in one process), and one client on each at the same
    time (two requests at once in two processes). Both ways have as many threads asking for the cores,
    so a busy machine takes its share from both alike.
    """
    load_before = os.getloadavg()
    alone: list[Level] = []
    threads: list[Level] = []
    processes: list[list[Level]] = [[], []]
    with tempfile.TemporaryDirectory(prefix="askdocs-bench-serving-") as tmp, contextlib.ExitStack() as stack:
        servers = [stack.enter_context(_server(settings, Path(tmp) / "index", 1)) for _ in range(2)]
        for server in servers:
            _ask_all(server, questions[:8], 1, 0.0)
        half = len(questions) // 2  # the second server's client starts halfway, as a second client would
        orders = [list(questions), [*questions[half:], *questions[:half]]]

        def one_client(i: int) -> None:
            processes[i].append(_ask_all(servers[i], orders[i], 1, seconds, 1))

        for _ in range(rounds):
            alone.append(_ask_all(servers[0], questions, 1, seconds, 1))
            threads.append(_ask_all(servers[0], questions, 2, seconds, 1))
            runs = [threading.Thread(target=one_client, args=(i,)) for i in range(2)]
            for run in runs:
                run.start()
            for run in runs:
                run.join()
    one, two = _merge(alone), _merge(threads)
    first, second = (_merge(p) for p in processes)
    both = Level(
        1,
        2,
        first.answers + second.answers,
        first.errors + second.errors,
        first.seconds,
        first.latencies_s + second.latencies_s,
        first.server_cpu_s + second.server_cpu_s,
    )
    lines = [
        "## Threads in one process against processes (serve_threads 1)",
        "",
        f"{load_span(load_before, os.getloadavg())} "
        f"({os.cpu_count()} cores). {rounds} interleaved rounds of {seconds:g} s.",
        "",
        "| clients | answers/s | × 1 client | p50 / p95 | server CPU | answers per CPU-second | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, level in (
        ("one process, 1 client", one),
        ("one process, 2 clients", two),
        ("two processes, 1 client each", both),
    ):
        latency = sorted(level.latencies_s)
        p50, p95 = (percentile(latency, p) * 1000 for p in (50, 95))
        lines.append(
            f"| {name} | {level.rate:.1f} | {_ratio(level.rate, one)} | {p50:.0f} / {p95:.0f} ms "
            f"| {level.cores:.2f} cores | {_per(level.answers, level.server_cpu_s)} | {level.errors} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def _server(settings: Settings, index_dir: Path, threads: int) -> Iterator[Server]:
    """`askdocs serve` on a free port with `serve_threads=threads`, the corpus indexed into `index_dir`."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    # the bench's own settings, field by field, in the form `load_settings` reads from the environment
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        text = ",".join(value) if isinstance(value, tuple) else str(value).lower() if isinstance(value, bool) else value
        env[f"ASKDOCS_{field.name.upper()}"] = str(text)
    env.update(
        ASKDOCS_CORPUS_DIR=str(settings.corpus_dir.resolve()),
        ASKDOCS_INDEX_DIR=str(index_dir),
        ASKDOCS_SERVE_THREADS=str(threads),
        ASKDOCS_ACCESS_TOKEN="",  # the clients send none
        ASKDOCS_ROOT_PATH="",
        ASKDOCS_SETTINGS=os.devnull,  # no askdocs.toml of the working directory on top
        # this copy of the program, wherever the working directory is
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]),
    )
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = index_dir.parent / f"serve-{threads}.log"  # a file, not a pipe: nobody reads it while it runs
    with open(log, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError(f"the benchmark's server stopped: {log.read_text(encoding='utf-8')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark's server did not start within {STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ask_all(server: Server, questions: Sequence[str], clients: int, seconds: float, threads: int = 0) -> Level:
    """`clients` threads asking without pause; what completes within a window of `seconds` is counted.

    The window opens once every client has a request under way (after RAMP_S) and closes `seconds` later,
    so neither the start nor the requests cut off at the end bias the rate; with `seconds` 0 each client
    asks every question once and everything counts (a warm-up).
    """
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()
    window = [float("inf"), float("inf")]  # counted: completions between these two perf_counter times

    def client(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            barrier.wait()
            for n in range(offset, offset + (len(questions) if seconds <= 0 else sys.maxsize)):
                if stop.is_set():
                    return
                began = time.perf_counter()
                try:
                    response = http.post("/api/ask", json={"question": questions[n % len(questions)]})
                    ok = response.status_code == 200 and "text" in response.json()
                    error = "" if ok else f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    error = repr(exc)
                done = time.perf_counter()
                with lock:
                    if seconds <= 0 or window[0] <= done <= window[1]:
                        latencies.append(done - began)
                        if error:
                            errors.append(error)

    workers = [threading.Thread(target=client, args=(i * len(questions) // clients,)) for i in range(clients)]
    for worker in workers:
        worker.start()
    barrier.wait()
    began, cpu = time.perf_counter(), server.cpu_s()
    if seconds > 0:
        window[:] = [began + RAMP_S, began + RAMP_S + seconds]
        time.sleep(RAMP_S)
        cpu = server.cpu_s()
        time.sleep(seconds)
        stop.set()
    cpu = server.cpu_s() - cpu
    for worker in workers:
        worker.join()
    elapsed = seconds if seconds > 0 else time.perf_counter() - began
    return Level(threads, clients, len(latencies) - len(errors), len(errors), elapsed, tuple(latencies), cpu)


def _merge(parts: Sequence[Level]) -> Level:
    first = parts[0]
    return Level(
        first.threads,
        first.clients,
        sum(p.answers for p in parts),
        sum(p.errors for p in parts),
        sum(p.seconds for p in parts),
        tuple(t for p in parts for t in p.latencies_s),
        sum(p.server_cpu_s for p in parts),
    )


def _per(answers: int, cpu_s: float) -> str:
    return f"{answers / cpu_s:.1f}" if cpu_s else "–"


def _ratio(rate: float, baseline: Level | None) -> str:
    return f"{rate / baseline.rate:.2f}×" if baseline and baseline.rate else "–"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_text(load: tuple[float, float, float]) -> str:
    """A load average as "1.00 / 0.50 / 0.25" (1, 5, 15 min)."""
    return " / ".join(f"{x:.2f}" for x in load)


def load_span(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    """The load average at the start and at the end of a measurement, as the bench prints it."""
    return f"Load average (1, 5, 15 min): {load_text(before)} at the start, {load_text(after)} at the end"


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from app.evaluation.bench import bench_questions

    parser = argparse.ArgumentParser(prog="python -m app.evaluation.bench_serving", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)), help="numbers of clients (default 1,2,4)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"per round and level (default {SECONDS:g})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"interleaved rounds (default {ROUNDS})")
    parser.add_argument(
        "--processes", action="store_true", help="instead: 2 clients on one server against 1 on each of two servers"
    )
    args = parser.parse_args(argv)
    settings, questions = load_settings(), bench_questions(100)
    if args.processes:
        print(processes_section(settings, questions, args.seconds, args.rounds))
        return
    clients = tuple(int(n) for n in args.clients.split(","))
    print(serving_section(settings, questions, None, clients, args.seconds, args.rounds).strip())


if __name__ == "__main__":
    main()
