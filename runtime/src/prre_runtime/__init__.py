"""Plumbing shared by every PRRE service.

Written once, used everywhere: the event store and its outbox relay, the
idempotent Kafka consumer, bearer-token identity, tracing, typed settings, the
HTTP application shell, and the embedded stack that runs it all on one machine.
"""
