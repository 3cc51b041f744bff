"""The projections service: read models, dashboards and the unified audit trail.

It records nothing of its own: it consumes every service's events and keeps
tables shaped for reading, each fed idempotently from Kafka.
"""
