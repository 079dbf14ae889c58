"""`askdocs bench`'s serving section on a small real corpus: real servers, every level measured, no errors.

No speed is asserted (the machine is shared); what is checked is what each figure is of.
"""

from pathlib import Path

from app.evaluation.bench_serving import OLD_THREADS, measure_serving, processes_section, serving_section
from app.settings import Settings

QUESTIONS = ["What pipeline did TC Energy finish in Mexico?", "Who is Mark Carney?", "Who won the 2024 Stanley Cup?"]


def test_each_thread_setting_is_measured_at_each_number_of_clients(small_index: Settings) -> None:
    run = measure_serving(small_index, QUESTIONS, clients=(1, 2), seconds=0.5, rounds=1)
    assert [(level.threads, level.clients) for level in run.levels] == [(1, 1), (1, 2), (OLD_THREADS, 1), (2, 2)]
    for level in run.levels:
        assert level.errors == 0
        assert level.answers == len(level.latencies_s) > 0
        assert level.seconds == 0.5  # the counted window
        assert level.server_cpu_s > 0  # the server's own process, read from /proc
    assert run.questions == len(QUESTIONS)
    assert run.gil.answers == len(QUESTIONS)
    assert 0.3 < run.gil.released < 1  # the models' runs are most of a request, never all of it


def test_the_section_is_appended_to_the_bench_report(small_index: Settings, tmp_path: Path) -> None:
    (tmp_path / "benchmarks.md").write_text("# askdocs bench\n")
    section = serving_section(small_index, QUESTIONS, tmp_path, clients=(1,), seconds=0.3, rounds=1)
    report = (tmp_path / "benchmarks.md").read_text()
    assert report.startswith("# askdocs bench\n")
    assert section.strip() in report
    assert "| 1 (serve_threads, as configured) | 1 |" in section
    assert "| 2 (as before serve_threads) | 1 |" in section
    assert "Load average" in section
    assert "inside onnxruntime and FAISS, which release the GIL" in section


def test_threads_in_one_process_are_compared_with_two_processes(small_index: Settings) -> None:
    section = processes_section(small_index, QUESTIONS, seconds=0.5, rounds=1)
    rows = [line for line in section.splitlines() if line.startswith("| ") and "cores" in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| one process, 1 client",
        "| one process, 2 clients",
        "| two processes, 1 client each",
    ]
    assert all(row.endswith("| 0 |") for row in rows)  # no errors
    assert rows[0].split(" | ")[2] == "1.00×"  # the baseline
