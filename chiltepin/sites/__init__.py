"""What a machine is: the site model (``model.py``) and its loader (``loader.py``).

The lowest layer of the stack (``docs/architecture.md``): everything above reads sites;
this package imports nothing above it.
"""
