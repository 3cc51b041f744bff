"""Bearer tokens: who is calling, in which role, for which areas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from prre_runtime.errors import Forbidden, NotAuthenticated
from prre_runtime.identity import Principal, Role, issue_token, read_token

SECRET = "unit-test-token-secret-long-enough"
NOW = datetime.now(UTC)


def token_for(
    role: Role, *areas: str, secret: str = SECRET, issued: datetime = NOW
) -> str:
    return issue_token(
        secret, subject="sam@example.org", role=role, areas=areas, now=issued
    )


def test_a_token_round_trips_role_subject_and_areas() -> None:
    token = token_for(Role.REFERRER, "north-vale", "south-vale")

    principal = read_token(SECRET, token)

    assert principal == Principal(
        subject="sam@example.org",
        role=Role.REFERRER,
        areas=frozenset({"north-vale", "south-vale"}),
    )
    assert principal.actor.role == "referrer"


def test_an_expired_token_is_refused_with_a_clear_message() -> None:
    token = token_for(Role.CLINICIAN, "north-vale", issued=NOW - timedelta(days=2))

    with pytest.raises(NotAuthenticated) as refused:
        read_token(SECRET, token)

    assert str(refused.value) == "The token has expired; ask for a new one."


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = token_for(
        Role.CLINICIAN, "north-vale", secret="another-secret-that-is-long-enough-too"
    )

    with pytest.raises(NotAuthenticated, match="The token is not valid"):
        read_token(SECRET, token)


def test_a_token_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(NotAuthenticated, match="The token is not valid"):
        read_token(SECRET, "not-a-token")


def test_a_caller_is_refused_in_an_area_their_token_does_not_cover() -> None:
    caller = read_token(SECRET, token_for(Role.TRIAGE_LEAD, "north-vale"))

    caller.ensure_area("north-vale")
    with pytest.raises(Forbidden) as refused:
        caller.ensure_area("south-vale")

    assert str(refused.value) == "Your token does not cover area 'south-vale'."


def test_the_regional_admin_star_covers_every_area() -> None:
    admin = read_token(SECRET, token_for(Role.REGIONAL_ADMIN, "*"))

    admin.ensure_area("north-vale")
    admin.ensure_area("any-new-area")

    assert admin.may_act_in("south-vale")


def test_a_wrong_role_is_refused_naming_the_roles_allowed() -> None:
    caller = read_token(SECRET, token_for(Role.REFERRER, "north-vale"))

    with pytest.raises(Forbidden) as refused:
        caller.ensure_role(Role.PROGRAMME_LEAD, Role.REGIONAL_ADMIN)

    assert str(refused.value) == (
        "The role 'referrer' cannot do this; it needs one of: "
        "programme-lead, regional-admin."
    )


def test_an_allowed_role_passes() -> None:
    caller = read_token(SECRET, token_for(Role.PROGRAMME_LEAD, "north-vale"))

    caller.ensure_role(Role.PROGRAMME_LEAD, Role.REGIONAL_ADMIN)
