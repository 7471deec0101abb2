"""Telling people when something changed: who is told what (subscriptions), what a message says (message),
how it is sent (channels), and the outbox that delivers each message once (dispatch). Alerts about newsmon
itself (alerts) go the same way."""
