"""One module per wire format; each turns a loaded document into drafts (see ingest.draft)."""
