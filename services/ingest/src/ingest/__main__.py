"""Run the ingest service: ``python -m ingest``."""

from shared.runtime import serve

from ingest.app import create_app
from ingest.settings import IngestSettings

settings = IngestSettings()
serve(
    create_app(settings),
    host=settings.http_host,
    port=settings.http_port,
    loop="uvloop",
    http="httptools",
    log_level="warning",
    timeout_graceful_shutdown=10,
)
