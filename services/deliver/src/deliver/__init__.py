"""Newsflow deliver service: webhook subscriptions and their deliveries."""
