"""Endpoint side: render a site into a Globus Compute endpoint directory and drive its lifecycle."""
