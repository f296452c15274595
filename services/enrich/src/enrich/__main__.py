"""Run the enrich service: ``python -m enrich``."""

from shared.runtime import serve

from enrich.app import create_app
from enrich.settings import EnrichSettings

settings = EnrichSettings()
serve(create_app(settings), host=settings.http_host, port=settings.http_port, loop="uvloop",
      log_level="warning", timeout_graceful_shutdown=10)
