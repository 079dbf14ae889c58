"""askdocs: answer questions about a folder of documents, with citations a reader can check.

Pipeline, one module per stage: ingest → chunking → embedding/dense/lexical →
store/indexer → retrieve (fusion) → answer → assistant → cli/api/ui/evaluate.
"""
