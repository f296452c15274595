"""Newsflow enrich service."""
