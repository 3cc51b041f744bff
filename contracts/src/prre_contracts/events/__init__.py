"""The public event catalogue, one module per publishing service.

``programme`` and ``referral`` are published by the referral service, the
others by the service they are named after. Import event classes from their
modules; ``prre_contracts.catalogue`` looks them up by type and version.
"""
