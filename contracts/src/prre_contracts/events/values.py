"""Value types shared by several events.

These are not events: they are the building blocks events are made of, such
as a child's baseline measures or one action of an action plan. Closed sets of
words (a nation, a priority) are ``Literal`` types, so they appear in the JSON
Schema as an ``enum`` an integrator can read.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""Free text written by staff. Never the place for a child's personal data."""

Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A short name, title or identifier."""

Publisher = Literal["referral", "triage", "assessment", "review-scheduler"]
"""The services that publish events; each has its own Kafka topic."""

Nation = Literal["england", "wales", "scotland", "northern-ireland"]
"""The UK nation an area is in: it decides bank holidays and school terms."""

Phase = Literal["mobilisation", "pilot", "scale"]
"""The implementation phase of an area.

Mobilisation sets the area up and accepts no referrals; the pilot runs for one
term with a few settings; scale (and embed) follows a recorded evaluation.
"""

SettingKind = Literal["school", "pru", "alternative-provision", "yjs"]
"""Where a referral can come from.

``pru`` is a pupil referral unit, a school for children who cannot attend a
mainstream school; ``yjs`` is the Youth Justice Service itself.
"""

ExclusionStatus = Literal["none", "at-risk", "suspended", "permanently-excluded"]
"""How close a child is to losing their school place.

A suspension is a fixed-term removal from school; a permanent exclusion
removes the child from the school's roll.
"""

ConsentParty = Literal["parent", "carer", "young-person"]
"""Who gave, refused or withdrew consent.

The young person decides for themselves once they are judged competent to.
"""

Priority = Literal["urgent", "routine"]
"""The triage priority, chosen by the area's triage thresholds."""

DeliveryModel = Literal["employed", "commissioned"]
"""Whether the area employs its speech and language therapists or buys the
service from a provider such as an NHS trust."""

StakeholderRole = Literal[
    "setting-lead",
    "parent-carer",
    "young-person",
    "yjs-worker",
    "slt-clinician",
    "senco",
    "social-worker",
    "triage-lead",
]
"""A role in a child's case. Events name roles, never the child's family.

``senco`` is the special educational needs co-ordinator of a school.
"""

Stage = Literal["triage", "consent", "assessment", "report", "feedback", "review"]
"""A stage of the pathway that has a response-time target.

triage: referral received to triage decision (accepted or declined); consent:
referral received to consent confirmed; assessment: the later of acceptance
and consent to assessment completed; report: assessment completed
to report issued; feedback: report issued to feedback meeting; review: review
due to review completed.
"""

ReviewDecision = Literal["close", "further-support", "re-refer"]
"""What a follow-up review decides for the case."""

ClosureReason = Literal[
    "declined",
    "consent-refused",
    "consent-withdrawn",
    "completed",
    "re-referred",
    "withdrawn-by-referrer",
]
"""Why a referral was closed."""

SessionKind = Literal["training", "consultation", "community-of-practice"]
"""A programme session for staff.

Training teaches staff to spot and support communication needs; consultation
is an SLT advising staff on a situation; a community of practice is a
recurring meeting where practitioners share what works.
"""

PilotRecommendation = Literal["proceed-to-scale", "extend-pilot", "stop"]
"""What a pilot evaluation recommends for the area."""


class Value(BaseModel):
    """Base of the value models: immutable and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Baseline(Value):
    """A child's school measures, taken at referral and again at review.

    Comparing the two is how the programme shows whether it helped.
    """

    attendance_percent: float = Field(ge=0, le=100)
    suspensions_this_year: int = Field(ge=0)
    exclusion_status: ExclusionStatus


class ResponseTimeTarget(Value):
    """How many working days one stage of the pathway may take.

    Working days skip weekends, the nation's bank holidays and the area's
    school holidays.
    """

    stage: Stage
    working_days: int = Field(ge=1, le=365)


class Term(Value):
    """One school term of an academic year."""

    name: Label
    starts_on: datetime.date
    ends_on: datetime.date

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.ends_on < self.starts_on:
            msg = "a term cannot end before it starts"
            raise ValueError(msg)
        return self


class Action(Value):
    """One action of an action plan: what, who (as a role) and by when."""

    description: Text
    owner_role: StakeholderRole
    due_on: datetime.date
