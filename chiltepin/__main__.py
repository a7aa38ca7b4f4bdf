"""``python -m chiltepin``: the ``chiltepin`` command, for a process that has the package but
not necessarily its console script on PATH (``chiltepin testing up`` starts the stand-in
so, with the same interpreter)."""

from chiltepin.cli.main import cli

if __name__ == "__main__":
    cli()
