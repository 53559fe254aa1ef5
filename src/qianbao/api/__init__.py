"""JSON API: routers by audience, problem+json errors, OpenAPI at /api/docs."""
