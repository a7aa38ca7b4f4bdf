"""Runnable demonstrations behind ``chiltepin demo``."""
