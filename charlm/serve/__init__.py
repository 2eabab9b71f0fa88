"""The HTTP service of ``charlm serve`` (FastAPI + uvicorn; the ``serve`` extra)."""
