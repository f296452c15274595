"""Run the publish service: ``python -m publish``."""

from shared.runtime import serve

from publish.app import create_app
from publish.settings import PublishSettings

settings = PublishSettings()
serve(create_app(settings), host=settings.http_host, port=settings.http_port, loop="uvloop",
      log_level="warning", timeout_graceful_shutdown=10)
