"""Newsflow ingest service."""
