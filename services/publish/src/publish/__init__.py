"""Newsflow publish service."""
