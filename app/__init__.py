"""askdocs: answer questions about a folder of documents, with citations a reader can check.

Pipeline, one folder per stage: ingest → index → search → answer → assistant → serve | evaluation | cli.
"""

import os

# onnxruntime (the reader, and markitdown's file-type model) sends usage telemetry to Microsoft from
# version 1.29 on Linux unless this is set before it initializes; askdocs makes no outbound connection
# (tests/serve/test_offline.py checks). Set here, where every entry point passes first.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
