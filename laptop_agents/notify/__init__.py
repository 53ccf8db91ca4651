"""Notifications: a JSON POST (or a Telegram message) per trading event (docs/notifications.md).

- ``targets``: LA_WEBHOOK_URL parsed into targets, their redacted form and their secrets;
- ``events``: the event names, LA_NOTIFY_EVENTS, and the :class:`Notice` a hook publishes;
- ``sources``: what the engine's broker events, gate transitions and connection events mean
  as notices;
- ``render``: a notice as the JSON body, or as a Telegram message's text;
- ``delivery``: the bounded queue and the one task that posts, retried with backoff;
- ``notifications``: the :class:`Notifications` facade the engine holds.

Nothing here imports the engine: the session calls in, never the other way round.
"""
