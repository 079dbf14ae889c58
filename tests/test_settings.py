from pathlib import Path

import pytest

from app.errors import SettingsError
from app.settings import Settings, load_settings


def test_defaults_without_file_or_env() -> None:
    assert load_settings(env={}) == Settings()


def test_file_then_environment_override(tmp_path: Path) -> None:
    file = tmp_path / "s.toml"
    file.write_text('top_k = 9\nchunk_size = 700\nallowed_origins = ["https://intranet.example"]\n')
    settings = load_settings(file, env={"ASKDOCS_TOP_K": "3", "ASKDOCS_ALLOWED_ORIGINS": "https://a, https://b"})
    assert settings.top_k == 3  # environment wins over the file
    assert settings.chunk_size == 700
    assert settings.allowed_origins == ("https://a", "https://b")


def test_settings_file_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "x.toml"
    file.write_text("dense_weight = 0.25\n")
    assert load_settings(env={"ASKDOCS_SETTINGS": str(file)}).dense_weight == 0.25


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("top_kk = 3\n", {}, "unknown setting 'top_kk'"),
        ("", {"ASKDOCS_TOPK": "3"}, "unknown environment variable ASKDOCS_TOPK"),
        ("", {"ASKDOCS_TOP_K": "three"}, "setting top_k"),
        ("chunk_overlap = 900\n", {}, "chunk_overlap"),
        ("retrieval_mode = 'magic'\n", {}, "retrieval_mode"),
        ("encoder = 'gpu'\n", {}, "encoder: one of onnx, torch"),
        ("", {"ASKDOCS_ENCODER_THREADS": "0"}, "encoder_threads"),
        ("reader_threads = 0\n", {}, "reader_threads"),
        ("", {"ASKDOCS_SERVE_THREADS": "0"}, "serve_threads"),
        ("top_k = [\n", {}, "not valid TOML"),
    ],
)
def test_bad_settings_are_rejected_with_a_clear_message(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    file = tmp_path / "s.toml"
    file.write_text(toml)
    with pytest.raises(SettingsError, match=message):
        load_settings(file, env=env)


def test_missing_settings_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_the_server_runs_every_onnxruntime_session_on_serve_threads() -> None:
    settings = load_settings(env={"ASKDOCS_SERVE_THREADS": "3", "ASKDOCS_ENCODER_THREADS": "2"})
    serving = settings.serving()
    assert (serving.encoder_threads, serving.reader_threads, serving.serve_threads) == (3, 3, 3)
    assert settings.encoder_threads == 2  # a command other than serve keeps its own
    assert Settings().serving().encoder_threads == 1  # by default: requests in parallel, one thread each
