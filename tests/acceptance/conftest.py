"""Fixtures of the acceptance tests: a real uvicorn server (the browser harness's LiveServer) serving the app
on the per-test database, customers opened through the wallets domain and signed in over HTTP
(`POST /api/v1/sessions`, with the SMS code a new device needs), and a client that speaks only HTTP."""

from acceptance_helpers import _keys, live, settings  # noqa: F401
