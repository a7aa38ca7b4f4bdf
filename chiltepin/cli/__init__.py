"""The ``chiltepin`` command line."""
