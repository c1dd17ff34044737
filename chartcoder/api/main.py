"""The ASGI application uvicorn serves (`chartcoder.api.main:app`)."""

from chartcoder.api.app import create_app
from chartcoder.logs import configure_logging

configure_logging()
app = create_app()
