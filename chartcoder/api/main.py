"""The ASGI application uvicorn serves (`chartcoder.api.main:app`)."""

from chartcoder.api.app import create_app

app = create_app()
