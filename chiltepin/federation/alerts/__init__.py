"""Alerts: a run tells a webhook and/or a command about what needs a person.

A run's ``alerts:`` (:class:`~chiltepin.client.config.AlertsConfig`) names where they go
and which are sent. :class:`~chiltepin.federation.alerts.rules.AlertRules` decides when
something is worth an alert (a site lost or back, a site's failure rate, the budget, the
end of the run); :class:`~chiltepin.federation.alerts.sender.AlertSender` delivers them
from one thread of its own, so delivery never blocks or fails the run; the payload's
documented shape is :mod:`~chiltepin.federation.alerts.payload`.
"""

from chiltepin.federation.alerts.payload import PAYLOAD_VERSION, Alert
from chiltepin.federation.alerts.rules import AlertRules
from chiltepin.federation.alerts.sender import AlertSender

__all__ = ["PAYLOAD_VERSION", "Alert", "AlertRules", "AlertSender"]
