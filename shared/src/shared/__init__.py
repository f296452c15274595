"""Newsflow shared contracts and plumbing."""
