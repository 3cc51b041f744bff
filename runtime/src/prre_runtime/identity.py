"""Who is calling: bearer tokens that carry a role and the areas it may act in.

Tokens are signed JSON Web Tokens (HS256). A regional deployment hosts many
local areas; a token names the areas its holder works in, and every request
outside them is refused. ``"*"`` as the only area is reserved for the regional
administrator, who registers new areas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from prre_contracts import Actor
from prre_runtime.errors import Forbidden, NotAuthenticated

ALGORITHM = "HS256"
ALL_AREAS = "*"


class Role(StrEnum):
    """The people who use the system, as described in the design brief."""

    REGIONAL_ADMIN = "regional-admin"
    PROGRAMME_LEAD = "programme-lead"
    REFERRER = "referrer"
    TRIAGE_LEAD = "triage-lead"
    CLINICIAN = "clinician"
    GOVERNANCE = "governance"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    subject: str
    role: Role
    areas: frozenset[str]

    @property
    def actor(self) -> Actor:
        return Actor(subject=self.subject, role=self.role.value)

    def may_act_in(self, area_id: str) -> bool:
        return ALL_AREAS in self.areas or area_id in self.areas

    def ensure_area(self, area_id: str) -> None:
        if not self.may_act_in(area_id):
            raise Forbidden(f"Your token does not cover area '{area_id}'.")

    def ensure_role(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(
                f"The role '{self.role.value}' cannot do this; it needs one of: "
                f"{allowed}."
            )


def issue_token(
    secret: str,
    *,
    subject: str,
    role: Role,
    areas: Iterable[str],
    now: datetime,
    valid_for: timedelta = timedelta(hours=12),
) -> str:
    claims = {
        "sub": subject,
        "role": role.value,
        "areas": sorted(set(areas)),
        "iat": int(now.timestamp()),
        "exp": int((now + valid_for).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Principal:
    """The principal a token names, or ``NotAuthenticated`` saying why not."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        role = Role(claims["role"])
        areas = frozenset(str(area) for area in claims.get("areas", []))
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticated("The token has expired; ask for a new one.") from error
    except (jwt.InvalidTokenError, KeyError, ValueError) as error:
        raise NotAuthenticated(f"The token is not valid: {error}.") from error
    return Principal(subject=str(claims["sub"]), role=role, areas=areas)
