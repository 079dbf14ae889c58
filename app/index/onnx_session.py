"""onnxruntime, wrapped (the only module that imports it): inference sessions and int8 quantization.

Both ONNX models of the product go through here: the sentence encoder (`app/index/onnx_encoder.py`)
and the reader (`app/answer/reader.py`), whose training quantizes with `quantize_int8` as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_session(path: Path, threads: int) -> Any:
    """A CPU inference session on `threads` intra-op threads (safe to share between threads)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # one graph runs at a time per call; the server's concurrency comes from its own threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning for the next run: with the encoder's and the reader's pools in one
    # process on a shared machine, spinning stole the cores (measured at load 5.6 on 2 cores: encoding 24 → 31
    # chunks/s, a query plus a reading 80 → 39 ms).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of `source`'s weights, one scale per output channel.

    Per channel, not per tensor: per-tensor int8 was measured too lossy for MiniLM here (mean cosine
    0.956 to the float vectors against 0.994 per channel).
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic logs a "consider pre-processing" hint through the root logger on every call
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
