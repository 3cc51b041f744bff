"""One root error for the runtime; each subclass maps to one HTTP answer."""

from __future__ import annotations


class PrreError(Exception):
    """Root of every error the platform raises on purpose."""


class ConfigurationError(PrreError):
    """A setting is missing or malformed; the message names it."""


class NotAuthenticated(PrreError):
    """The request carries no valid bearer token (HTTP 401)."""


class Forbidden(PrreError):
    """The caller's role or areas do not allow this (HTTP 403)."""


class NotFound(PrreError):
    """No such area, setting or referral (HTTP 404)."""


class RuleBroken(PrreError):
    """A command would break a rule of the pathway or programme (HTTP 409).

    The message is a sentence the person who sent the command can act on.
    """


class ConcurrentChange(RuleBroken):
    """Someone else changed the same record at the same moment (HTTP 409)."""
