"""Server-rendered pages (Jinja2 + htmx) for customers, tellers and operators."""
