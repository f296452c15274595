"""Run the deliver service: ``python -m deliver``."""

from shared.runtime import serve

from deliver.app import create_app
from deliver.settings import DeliverSettings

settings = DeliverSettings()
serve(create_app(settings), host=settings.http_host, port=settings.http_port, loop="uvloop",
      log_level="warning", timeout_graceful_shutdown=10)
