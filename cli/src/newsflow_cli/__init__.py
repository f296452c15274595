"""The newsflow command line."""
