"""The client layer shared by :mod:`chiltepin.federation`, :mod:`chiltepin.workflow` and
:mod:`chiltepin.report`: a user's sites file and its resolution (``config``), per-task
resources and how they route to a site (``resources``), the one rate-budgeted Compute
client (``compute``, ``limits``, ``burst``) and how a call is serialised once (``calls``).

Nothing here knows about placement, failover or journals; those live in the federation.
"""
