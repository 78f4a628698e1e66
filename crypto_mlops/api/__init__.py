"""REST API, dashboard and SSE feed (FastAPI)."""
