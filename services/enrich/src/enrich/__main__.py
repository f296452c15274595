"""Run the enrich service: ``python -m enrich``."""

import uvicorn

from enrich.app import create_app
from enrich.settings import EnrichSettings

settings = EnrichSettings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
            loop="uvloop", log_level="warning", timeout_graceful_shutdown=10)
