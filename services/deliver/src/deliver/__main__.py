"""Run the deliver service: ``python -m deliver``."""

import uvicorn

from deliver.app import create_app
from deliver.settings import DeliverSettings

settings = DeliverSettings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
            loop="uvloop", log_level="warning", timeout_graceful_shutdown=10)
