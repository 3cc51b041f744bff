"""The rules a referral follows from receipt until consent settles it."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from prre_referral.domain import ChildDetails, Referral, child_reference
from prre_referral.programme import Area
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, EventStore, FactAggregate

PII_KEY = b"k" * 32


def recorded_facts(aggregate: FactAggregate) -> list[dict[str, Any]]:
    """The facts an aggregate has recorded and not yet saved, oldest first."""
    facts: list[dict[str, Any]] = []
    for event in aggregate.pending_events:
        assert isinstance(event, FactAggregate.Opened | FactAggregate.Recorded)
        facts.append(event.fact)
    return facts


def memory_store(**env: str) -> EventStore:
    """An event store kept in memory, as the service keeps one in PostgreSQL."""
    return EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo", **env})


def state(referral: Referral) -> dict[str, Any]:
    """What the service knows about a referral, without bookkeeping."""
    return {k: v for k, v in vars(referral).items() if k != "_pending_events"}


def test_a_received_referral_records_the_criteria_version_in_force(
    area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    area.define_criteria(["Revised"], date(2025, 3, 5), context)

    referral = refer(area)

    assert referral.criteria_version == 2
    assert recorded_facts(referral)[0]["data"]["criteria_version"] == 2


def test_a_received_referral_is_open_and_awaits_consent(referral: Referral) -> None:
    assert (referral.stage, referral.consent) == ("open", "pending")
    assert referral.setting_id == "hill-school"
    assert referral.referred_on == date(2025, 3, 10)


def test_the_public_event_names_the_child_only_by_reference(
    referral: Referral, child: ChildDetails
) -> None:
    [fact] = recorded_facts(referral)

    assert fact["type"] == "ReferralReceived"
    assert fact["data"]["child_ref"] == "CH-TESTREF"
    public = repr(fact["data"])
    for personal in ("Robin", "Example", "2013-05-17", "A123456789012"):
        assert personal not in public
    assert fact["private"] == child.as_private()


def test_the_published_envelope_carries_no_personal_data(referral: Referral) -> None:
    store = memory_store()
    store.save(referral)

    [notification] = store.recorder.select_notifications(start=1, limit=10)
    envelope = store.envelope(notification)

    assert envelope.data["child_ref"] == "CH-TESTREF"
    body = envelope.to_json().decode()
    for personal in ("Robin", "Example", "2013-05-17", "1 Test Street", "07700"):
        assert personal not in body


def test_the_child_is_stored_encrypted_when_a_cipher_key_is_set(
    referral: Referral, child: ChildDetails
) -> None:
    key = base64.b64encode(PII_KEY).decode()
    store = memory_store(
        CIPHER_TOPIC="eventsourcing.cryptography:AESCipher", CIPHER_KEY=key
    )
    store.save(referral)

    [notification] = store.recorder.select_notifications(start=1, limit=10)
    rebuilt: object = store.repository.get(referral.id)

    assert b"Robin" not in notification.state
    assert isinstance(rebuilt, Referral)
    assert rebuilt.child == child


def test_consent_is_confirmed_once_only(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)

    with pytest.raises(RuleBroken, match="already confirmed"):
        referral.confirm_consent("carer", date(2025, 3, 13), context)

    assert referral.consent == "confirmed"


def test_refusing_consent_closes_the_case(
    referral: Referral, context: CommandContext
) -> None:
    referral.refuse_consent("parent", date(2025, 3, 12), "Not now", context)

    types = [f["type"] for f in recorded_facts(referral)]
    assert types[-2:] == ["ConsentRefused", "ReferralClosed"]
    assert recorded_facts(referral)[-1]["data"]["reason"] == "consent-refused"
    assert (referral.stage, referral.closed_reason) == ("closed", "consent-refused")


def test_consent_already_confirmed_cannot_be_refused(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)

    with pytest.raises(RuleBroken, match="withdrawn instead"):
        referral.refuse_consent("parent", date(2025, 3, 14), None, context)


def test_withdrawing_consent_needs_consent_confirmed_first(
    referral: Referral, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken, match="has not been confirmed") as refused:
        referral.withdraw_consent("parent", date(2025, 3, 12), None, context)

    assert "refused instead" in str(refused.value)
    assert referral.stage == "open"


def test_withdrawing_confirmed_consent_closes_the_case(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("young-person", date(2025, 3, 12), context)

    referral.withdraw_consent("young-person", date(2025, 4, 2), "Moved", context)

    closed = recorded_facts(referral)[-1]
    assert closed["type"] == "ReferralClosed"
    assert closed["data"]["reason"] == "consent-withdrawn"
    assert closed["data"]["closed_on"] == "2025-04-02"
    assert (referral.consent, referral.closed_reason) == (
        "withdrawn",
        "consent-withdrawn",
    )


@pytest.mark.parametrize(
    "command",
    [
        lambda r, c: r.confirm_consent("parent", date(2025, 5, 1), c),
        lambda r, c: r.refuse_consent("parent", date(2025, 5, 1), None, c),
        lambda r, c: r.withdraw_consent("parent", date(2025, 5, 1), None, c),
    ],
    ids=["confirm", "refuse", "withdraw"],
)
def test_nothing_can_be_recorded_on_a_closed_referral(
    referral: Referral,
    context: CommandContext,
    command: Callable[[Referral, CommandContext], None],
) -> None:
    referral.refuse_consent("carer", date(2025, 3, 12), None, context)
    recorded = len(referral.pending_events)

    with pytest.raises(RuleBroken, match="closed \\(consent-refused\\)") as refused:
        command(referral, context)

    assert "Make a new referral" in str(refused.value)
    assert len(referral.pending_events) == recorded


def test_a_referral_rebuilt_from_its_events_equals_the_original(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)
    referral.withdraw_consent("parent", date(2025, 4, 2), None, context)
    store = memory_store()
    store.save(referral)

    rebuilt: object = store.repository.get(referral.id)

    assert isinstance(rebuilt, Referral)
    assert state(rebuilt) == state(referral)


def test_a_referral_replayed_event_by_event_equals_the_original(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)
    first, *rest = referral.collect_events()

    rebuilt = first.mutate(None)
    for event in rest:
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, Referral)
    assert state(rebuilt) == state(referral)


def test_the_child_reference_is_stable_for_one_child_in_one_area(
    child: ChildDetails,
) -> None:
    again = dataclasses.replace(child, address="2 Other Road")

    assert child_reference(PII_KEY, "north-vale", child) == child_reference(
        PII_KEY, "north-vale", again
    )


def test_the_child_reference_ignores_case_and_spaces_in_the_name(
    child: ChildDetails,
) -> None:
    without_upn = dataclasses.replace(child, upn=None)
    typed_loosely = dataclasses.replace(
        without_upn, given_name=" robin ", family_name="EXAMPLE"
    )

    assert child_reference(PII_KEY, "north-vale", without_upn) == child_reference(
        PII_KEY, "north-vale", typed_loosely
    )


def test_the_child_reference_differs_across_areas(child: ChildDetails) -> None:
    assert child_reference(PII_KEY, "north-vale", child) != child_reference(
        PII_KEY, "south-vale", child
    )


def test_the_child_reference_differs_with_another_key(child: ChildDetails) -> None:
    assert child_reference(PII_KEY, "north-vale", child) != child_reference(
        b"x" * 32, "north-vale", child
    )


def test_the_child_reference_does_not_reveal_the_child(child: ChildDetails) -> None:
    reference = child_reference(
        PII_KEY, "north-vale", dataclasses.replace(child, upn=None)
    )

    assert reference.startswith("CH-")
    for personal in ("robin", "example", "2013"):
        assert personal not in reference.lower()
