"""A region to look at: fills a running system with a year of realistic work.

``prre demo`` sets up a few areas in different implementation phases (one
still mobilising, one in its pilot term, one scaled up after a recorded
evaluation), enrols their settings, and takes a year of referrals along every
branch of the pathway — declined, more information requested, consent refused
or withdrawn, a missed assessment, an amended report, reviews that close the
case, continue support or re-refer — through the services' real HTTP APIs,
exactly as people would. Every fact is dated when it would have happened, so
the dashboards show a year of history with its terms, breaches and outcomes.

The generator is seeded: the same seed gives the same region.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from prre_runtime.errors import PrreError
from prre_runtime.identity import Role, issue_token

SERVICES = ("referral", "triage", "assessment", "review-scheduler", "projections")

BRANCHES: dict[str, int] = {
    "completed": 30,
    "further-support": 8,
    "re-referred": 5,
    "declined": 12,
    "more-information": 10,
    "consent-refused": 7,
    "consent-withdrawn": 5,
    "did-not-attend": 9,
    "report-amended": 8,
    "no-review-needed": 6,
    "withdrawn-by-referrer": 3,
}
"""How often each branch of the pathway occurs, in relative weights."""

CRITERIA = [
    "Child or young person at risk of suspension or exclusion",
    "Concerns about understanding or using language",
]
GIVEN = ["Alex", "Sam", "Jordan", "Riley", "Casey", "Morgan", "Jamie", "Taylor"]
FAMILY = ["Hughes", "Patel", "Okafor", "Nowak", "Evans", "Campbell", "Reid", "Khan"]
CONCERNS = [
    "Struggles to follow instructions given to the whole class",
    "Often misunderstands what staff ask and reacts with frustration",
    "Finds it hard to explain their side after an incident",
    "Limited vocabulary for feelings; conflict escalates quickly",
    "Difficulty following the sequence of a lesson or a story",
]
NEEDS = [
    "Receptive language difficulties",
    "Expressive language difficulties",
    "Difficulty with social communication",
    "Narrative skills below age expectations",
    "Word-finding difficulties",
]
ACTIONS = [
    ("Give instructions one step at a time, with a visual prompt", "setting-lead"),
    ("Pre-teach topic vocabulary each week", "senco"),
    ("Use a feelings scale during restorative conversations", "yjs-worker"),
    ("Read together for ten minutes, talking about the story", "parent-carer"),
]
PEOPLE = [
    {"role": "setting-lead", "name": "Setting lead"},
    {"role": "parent-carer", "name": "Parent or carer"},
    {"role": "yjs-worker", "name": "YJS case worker"},
]


class DemoError(PrreError):
    """A service refused a step of the demonstration; the message says why."""


@dataclass(frozen=True)
class AreaPlan:
    """An area of the region and how far through its phases it has come."""

    area_id: str
    name: str
    nation: str
    phase: str
    settings: tuple[str, ...]
    referrals: int


def region(referrals_per_area: int, prefix: str = "") -> list[AreaPlan]:
    """The region the demo builds: three areas in three phases.

    ``prefix`` goes before each area's code, so a second demo region can live
    beside the first on the same system.
    """
    return [
        AreaPlan(
            f"{prefix}north-vale",
            "North Vale",
            "england",
            "scale",
            ("nv-academy", "nv-high", "nv-pru", "nv-college"),
            referrals_per_area,
        ),
        AreaPlan(
            f"{prefix}west-coast",
            "West Coast",
            "wales",
            "pilot",
            ("wc-comprehensive", "wc-ysgol"),
            referrals_per_area * 2 // 3,
        ),
        AreaPlan(
            f"{prefix}east-moor",
            "East Moor",
            "scotland",
            "mobilisation",
            ("em-academy",),
            0,
        ),
    ]


def terms(nation: str) -> dict[str, list[dict[str, str]]]:
    """School terms of the two academic years the demo covers."""
    start = "2025-08-18" if nation == "scotland" else "2025-09-03"
    return {
        "2025/26": [
            {"name": "Autumn", "starts_on": start, "ends_on": "2025-12-19"},
            {"name": "Spring", "starts_on": "2026-01-05", "ends_on": "2026-03-27"},
            {"name": "Summer", "starts_on": "2026-04-13", "ends_on": "2026-07-21"},
        ],
        "2026/27": [
            {"name": "Autumn", "starts_on": "2026-09-02", "ends_on": "2026-12-18"},
            {"name": "Spring", "starts_on": "2027-01-04", "ends_on": "2027-03-26"},
            {"name": "Summer", "starts_on": "2027-04-12", "ends_on": "2027-07-21"},
        ],
    }


@dataclass
class Case:
    """One referral the demo takes along its branch, and its dates so far."""

    area: AreaPlan
    setting: str
    branch: str
    referred_on: date
    child: dict[str, str]
    baseline: dict[str, Any]
    referral_id: str = ""
    day: date = field(init=False)
    stopped: bool = False
    ended: str | None = None
    rereferral_id: str = ""
    """How the case ended, once its branch reached its end: the referral's
    closed reason, or ``further-support`` for a case kept open after review."""

    def __post_init__(self) -> None:
        self.day = self.referred_on

    def end(self, how: str) -> None:
        self.stopped, self.ended = True, how

    def later(self, rng: random.Random, low: int, high: int, today: date) -> bool:
        """Move the case's day on; ``False`` (and stop) if that is after today."""
        day = self.day + timedelta(days=rng.randint(low, high))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        if day >= today:
            self.stopped = True
            return False
        self.day = day
        return True


Progress = Callable[[str, int, int], None]
"""Told (step, done, total) as the demo goes."""


class Services:
    """The running services' HTTP APIs, called with tokens of the right role."""

    def __init__(self, urls: dict[str, str], secret: str) -> None:
        self._clients = {
            name: httpx.Client(base_url=url, timeout=30) for name, url in urls.items()
        }
        self._secret = secret

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def headers(self, role: Role, area: str) -> dict[str, str]:
        token = issue_token(
            self._secret,
            subject=f"demo-{role.value}@example.org",
            role=role,
            areas=[area],
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    def call(
        self,
        service: str,
        path: str,
        role: Role,
        area: str,
        body: dict[str, Any] | None = None,
        *,
        wait_for: Iterable[int] = (),
    ) -> Any:
        """POST ``body`` (or GET when ``None``); retry while the answer is one of
        ``wait_for`` (a service that has not yet heard an event), then fail."""
        deadline = time.monotonic() + 60
        while True:
            response = self.send(service, path, role, area, body)
            if response.status_code < 300:
                return response.json()
            if response.status_code not in wait_for or time.monotonic() > deadline:
                raise DemoError(
                    f"{service} refused {path} ({response.status_code}): "
                    f"{response.text[:300]}"
                )
            time.sleep(0.2)

    def send(
        self,
        service: str,
        path: str,
        role: Role,
        area: str,
        body: dict[str, Any] | None,
    ) -> httpx.Response:
        client, headers = self._clients[service], self.headers(role, area)
        if body is None:
            return client.get(path, headers=headers)
        return client.post(path, json=body, headers=headers)


@dataclass
class Demo:
    """Builds the region through ``services``, dated up to ``today``."""

    services: Services
    today: date
    seed: int = 2026
    area_prefix: str = ""
    progress: Progress = lambda step, done, total: None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def run(self, referrals_per_area: int) -> list[Case]:
        """Build the region; the cases, each with how it ended (if it has)."""
        areas = region(referrals_per_area, self.area_prefix)
        for number, area in enumerate(areas, start=1):
            self.set_up(area)
            self.progress("setting up areas", number, len(areas))
        cases = [case for area in areas for case in self.cases(area)]
        self.walk(cases)
        return cases

    # -- the programme ---------------------------------------------------------

    def set_up(self, area: AreaPlan) -> None:
        def admin(path: str, body: dict[str, Any]) -> Any:
            return self.services.call(
                "referral", f"/areas/{area.area_id}{path}", Role.PROGRAMME_LEAD,
                area.area_id, body,
            )  # fmt: skip

        registered = self.services.send(
            "referral",
            "/areas",
            Role.REGIONAL_ADMIN,
            "*",
            {"area_id": area.area_id, "name": area.name, "nation": area.nation},
        )
        if registered.status_code == 409:
            raise DemoError(
                f"Area '{area.area_id}' already exists: a demo region is already "
                "loaded on this system. Start from an empty --home, or load "
                "another region beside it with --prefix."
            )
        if registered.status_code >= 300:
            raise DemoError(f"referral refused /areas: {registered.text[:300]}")
        for path, body in mobilisation(area):
            admin(path, body)
        if area.phase == "mobilisation":
            return
        pilot_settings = area.settings[:2]
        admin("/phase", {"to_phase": "pilot", "changed_on": "2025-09-01"})
        for number, setting in enumerate(pilot_settings):
            admin(
                "/briefings",
                {
                    "setting_id": setting,
                    "delivered_on": f"2025-09-1{number}",
                    "attendees": 18 + number * 4,
                    "expected_referrals_per_term": 4 + number,
                },
            )
        admin(
            "/sessions",
            {
                "kind": "training",
                "topic": "Spotting communication needs",
                "delivered_on": "2025-10-08",
                "attendees_by_setting": {s: 12 for s in pilot_settings},
            },
        )
        if area.phase == "scale":
            self.scale(area, admin)

    def scale(
        self, area: AreaPlan, admin: Callable[[str, dict[str, Any]], Any]
    ) -> None:
        admin(
            "/pilot-evaluation",
            {
                "evaluated_on": "2025-12-15",
                "approved_by": "YJS Management Board",
                "summary": "The pilot found unmet communication needs in most referred "
                "children; settings valued the advice.",
                "findings": ["Most children assessed had unidentified needs"],
                "recommendation": "proceed-to-scale",
                "governance_report": "Pilot governance report, autumn term 2025",
            },
        )
        admin("/phase", {"to_phase": "scale", "changed_on": "2026-01-05"})
        for setting in area.settings[2:]:
            admin(
                "/settings",
                {
                    "setting_id": setting,
                    "name": setting.replace("-", " ").title(),
                    "kind": "pru" if "pru" in setting else "school",
                    "lead_name": "Dana Lead",
                    "enrolled_on": "2026-01-12",
                    "service_level_arrangement": {
                        "reference": f"SLA-{setting.upper()}",
                        "starts_on": "2026-01-12",
                        "ends_on": "2027-07-31",
                        "assessments_per_term": 6,
                        "terms": "Six assessments a term; feedback within ten days.",
                    },
                },
            )
        admin(
            "/sessions",
            {
                "kind": "community-of-practice",
                "topic": "What worked this term",
                "delivered_on": "2026-03-18",
                "attendees_by_setting": {s: 3 for s in area.settings},
            },
        )
        admin(
            "/commissioning-cycles",
            {
                "commissioner": "Vale Council",
                "starts_on": "2026-04-01",
                "length_months": 12,
            },
        )

    # -- the cases -------------------------------------------------------------

    def cases(self, area: AreaPlan) -> list[Case]:
        first = self.today - timedelta(days=365)
        days = [first + timedelta(days=n) for n in range(360)]
        school_days = [d for d in days if d.weekday() < 5 and d.month != 8]
        dates = sorted(self.rng.choice(school_days) for _ in range(area.referrals))
        # The earliest referrals take each branch once, so that every branch
        # has time to reach its end; the rest follow the branches' weights.
        branches = list(BRANCHES)[: len(dates)]
        branches += self.rng.choices(
            list(BRANCHES), weights=list(BRANCHES.values()), k=len(dates)
        )
        cases = []
        for referred_on, branch in zip(dates, branches, strict=False):
            # Pilot settings refer from the start; settings added at scale later.
            settings = [
                s
                for s in area.settings
                if s in area.settings[:2] or referred_on >= date(2026, 1, 19)
            ]
            setting = self.rng.choice(settings)
            cases.append(self.case(area, setting, referred_on, branch))
        return cases

    def case(
        self, area: AreaPlan, setting: str, referred_on: date, branch: str
    ) -> Case:
        born = date(2008 + self.rng.randint(0, 7), self.rng.randint(1, 12), 14)
        child = {
            "given_name": self.rng.choice(GIVEN),
            "family_name": self.rng.choice(FAMILY),
            "date_of_birth": born.isoformat(),
        }
        baseline = {
            "attendance_percent": round(self.rng.uniform(55, 97), 1),
            "suspensions_this_year": self.rng.choice([0, 0, 1, 1, 2, 3, 4]),
            "exclusion_status": self.rng.choice(["at-risk", "at-risk", "suspended"]),
        }
        return Case(area, setting, branch, referred_on, child, baseline)

    def walk(self, cases: list[Case]) -> None:
        """Take every case along its branch, one pathway stage at a time."""
        stages: list[tuple[str, Callable[[Case], None]]] = [
            ("referrals received", self.receive),
            ("triage decisions", self.triage),
            ("consent", self.consent),
            ("assessments", self.assess),
            ("reports and action plans", self.report_and_plan),
            ("reviews", self.review),
        ]
        for step, stage in stages:
            live = [case for case in cases if not case.stopped]
            for done, case in enumerate(live, start=1):
                stage(case)
                self.progress(step, done, len(live))

    def _post(
        self, case: Case, service: str, path: str, role: Role, body: dict[str, Any]
    ) -> Any:
        return self.services.call(
            service, path, role, case.area.area_id, body, wait_for=(404, 409)
        )

    def receive(self, case: Case) -> None:
        body = {
            "area_id": case.area.area_id,
            "setting_id": case.setting,
            "child": case.child,
            "concerns": self.rng.sample(CONCERNS, 2),
            "baseline": case.baseline,
            "year_group": self.rng.randint(6, 11),
            "referred_on": case.referred_on.isoformat(),
            "criteria_met": CRITERIA,
        }
        received = self.services.call(
            "referral", "/referrals", Role.REFERRER, case.area.area_id, body
        )
        case.referral_id = received["referral_id"]
        if case.branch == "withdrawn-by-referrer" and case.later(
            self.rng, 1, 4, self.today
        ):
            self._post(
                case,
                "referral",
                f"/referrals/{case.referral_id}/withdraw",
                Role.REFERRER,
                {"on": case.day.isoformat(), "reason": "Family moved out of the area"},
            )
            case.end("withdrawn-by-referrer")

    def triage(self, case: Case) -> None:
        path = f"/referrals/{case.referral_id}/triage"
        if not case.later(self.rng, 1, 9, self.today):
            return
        on = case.day.isoformat()
        if case.branch == "declined":
            self._post(
                case,
                "triage",
                f"{path}/decline",
                Role.TRIAGE_LEAD,
                {
                    "reason": "Needs are met by the school's own speech and language "
                    "support",
                    "signposting": ["School SENCO", "Community SLT drop-in"],
                    "on": on,
                },
            )
            case.end("declined")
            return
        if case.branch == "more-information":
            self.more_information(case, path)
            if case.stopped:
                return
        record = self.services.call("triage", path, Role.TRIAGE_LEAD, case.area.area_id)
        priority = record.get("screening", {}).get("suggested_priority") or "routine"
        self._post(
            case,
            "triage",
            f"{path}/accept",
            Role.TRIAGE_LEAD,
            {"priority": priority, "on": case.day.isoformat()},
        )

    def more_information(self, case: Case, path: str) -> None:
        self._post(
            case,
            "triage",
            f"{path}/more-information",
            Role.TRIAGE_LEAD,
            {
                "questions": ["How often has this happened this term?"],
                "on": case.day.isoformat(),
            },
        )
        if not case.later(self.rng, 1, 5, self.today):
            return
        self._post(
            case,
            "referral",
            f"/referrals/{case.referral_id}/more-information",
            Role.REFERRER,
            {"answers": ["Three or four times a week"], "on": case.day.isoformat()},
        )
        case.later(self.rng, 1, 3, self.today)

    def consent(self, case: Case) -> None:
        if not case.later(self.rng, 1, 6, self.today):
            return
        decision = "refuse" if case.branch == "consent-refused" else "confirm"
        self._post(
            case,
            "referral",
            f"/referrals/{case.referral_id}/consent/{decision}",
            Role.REFERRER,
            {"by": "parent", "on": case.day.isoformat()},
        )
        if decision == "refuse":
            case.end("consent-refused")

    def assess(self, case: Case) -> None:
        base = f"/assessments/{case.referral_id}"
        if not case.later(self.rng, 2, 8, self.today):
            return
        booked = case.day + timedelta(days=self.rng.randint(7, 20))
        self._post(
            case,
            "assessment",
            f"{base}/schedule",
            Role.CLINICIAN,
            {
                "scheduled_for": booked.isoformat(),
                "clinician_name": "Jo Therapist",
                "location": f"{case.setting} meeting room",
            },
        )
        if case.branch == "consent-withdrawn":
            if case.later(self.rng, 1, 5, self.today):
                self._post(
                    case,
                    "referral",
                    f"/referrals/{case.referral_id}/consent/withdraw",
                    Role.REFERRER,
                    {
                        "by": "parent",
                        "on": case.day.isoformat(),
                        "reason": "Family no longer wishes to take part",
                    },
                )
                case.end("consent-withdrawn")
            case.stopped = True
            return
        case.day = booked
        if case.day >= self.today:
            case.stopped = True
            return
        if case.branch == "did-not-attend":
            self._post(
                case,
                "assessment",
                f"{base}/non-attendance",
                Role.CLINICIAN,
                {"missed_on": case.day.isoformat(), "reason": "Absent from school"},
            )
            if not case.later(self.rng, 5, 12, self.today):
                return
            self._post(
                case,
                "assessment",
                f"{base}/reschedule",
                Role.CLINICIAN,
                {
                    "scheduled_for": case.day.isoformat(),
                    "reason": "Missed the first date",
                },
            )
        self._post(
            case,
            "assessment",
            f"{base}/complete",
            Role.CLINICIAN,
            {
                "completed_on": case.day.isoformat(),
                "communication_needs": self.rng.sample(NEEDS, self.rng.randint(1, 3)),
            },
        )

    def report_and_plan(self, case: Case) -> None:
        base = f"/assessments/{case.referral_id}"
        if not case.later(self.rng, 3, 14, self.today):
            return
        report = "Assessment found needs that explain much of the behaviour seen."
        self._post(
            case,
            "assessment",
            f"{base}/report",
            Role.CLINICIAN,
            {
                "text": report,
                "shared_with": PEOPLE,
                "author_name": "Jo Therapist",
                "issued_on": case.day.isoformat(),
            },
        )
        if case.branch == "report-amended" and case.later(self.rng, 1, 4, self.today):
            self._post(
                case,
                "assessment",
                f"{base}/report/amendments",
                Role.CLINICIAN,
                {
                    "text": report + " Recommendations for home added.",
                    "reason": "Parent asked for ideas to use at home",
                    "shared_with": PEOPLE,
                    "amended_on": case.day.isoformat(),
                },
            )
        if not case.later(self.rng, 3, 12, self.today):
            return
        on = case.day.isoformat()
        self._post(
            case,
            "assessment",
            f"{base}/feedback-meeting",
            Role.CLINICIAN,
            {"held_on": on, "attendees": PEOPLE},
        )
        review = case.branch != "no-review-needed"
        self._post(
            case,
            "assessment",
            f"{base}/action-plan",
            Role.CLINICIAN,
            self.plan(case, review),
        )
        if not review:
            case.end("completed")

    def plan(self, case: Case, review: bool) -> dict[str, Any]:
        actions = [
            {
                "description": text,
                "owner_role": owner,
                "due_on": (case.day + timedelta(days=28)).isoformat(),
            }
            for text, owner in self.rng.sample(ACTIONS, 2)
        ]
        weeks = self.rng.randint(6, 12) if review else None
        return {
            "actions": actions,
            "review_required": review,
            "review_after_weeks": weeks,
            "agreed_on": case.day.isoformat(),
        }

    def review(self, case: Case) -> None:
        path = f"/referrals/{case.referral_id}/reviews"
        reviews = self.services.call(
            "review-scheduler", path, Role.CLINICIAN, case.area.area_id, wait_for=(404,)
        )
        due = date.fromisoformat(reviews[-1]["due_on"])
        case.day = due
        if not case.later(self.rng, 0, 10, self.today):
            return
        decision = {"further-support": "further-support", "re-referred": "re-refer"}
        chosen = decision.get(case.branch, "close")
        outcome = {
            "attendance_percent": min(
                100.0, case.baseline["attendance_percent"] + self.rng.uniform(-3, 12)
            ),
            "suspensions_this_year": max(
                0, case.baseline["suspensions_this_year"] - self.rng.randint(0, 2)
            ),
            "exclusion_status": self.rng.choice(["none", "none", "at-risk"]),
        }
        self._post(
            case,
            "review-scheduler",
            f"/reviews/{reviews[-1]['review_id']}/complete",
            Role.CLINICIAN,
            {
                "completed_on": case.day.isoformat(),
                "outcome": outcome,
                "decision": chosen,
                "notes": "Staff report the strategies are in daily use.",
            },
        )
        case.end({"close": "completed", "re-refer": "re-referred"}.get(chosen, chosen))
        if chosen == "re-refer" and case.later(self.rng, 1, 10, self.today):
            self.rerefer(case)

    def rerefer(self, case: Case) -> None:
        """The referrer refers the same child again, as the review decided."""
        again = Case(
            case.area, case.setting, "completed", case.day, case.child,
            case.baseline,
        )  # fmt: skip
        self.receive(again)
        case.rereferral_id = again.referral_id


def mobilisation(area: AreaPlan) -> list[tuple[str, dict[str, Any]]]:
    """Every mobilisation step of ``area``; East Moor still lacks two items."""
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "/governance",
            {
                "sponsor_name": "Director of Children's Services",
                "yjs_board_approved_on": "2025-05-14",
                "education_partnership_approved_on": "2025-05-21",
            },
        ),
        (
            "/slt-delivery-model",
            {
                "delivery_model": "commissioned",
                "provider": "Community NHS Trust",
                "clinical_governance_lead_name": "Lead Speech and Language Therapist",
                "agreed_on": "2025-06-02",
            },
        ),
        (
            "/criteria",
            {
                "criteria": CRITERIA,
                "effective_from": "2025-06-01",
            },
        ),
        (
            "/triage-thresholds",
            {
                "attendance_below_percent": 80,
                "suspensions_at_least": 3,
                "exclusion_statuses": ["suspended", "permanently-excluded"],
                "effective_from": "2025-06-01",
            },
        ),
    ]
    if area.phase == "mobilisation":
        return steps
    steps += [
        (
            "/information-sharing-agreement",
            {
                "reference": f"ISA-{area.area_id.upper()}-2025",
                "parties": [f"{area.name} Council", "Community NHS Trust", "Schools"],
                "lawful_basis": "UK GDPR Article 6(1)(e): public task",
                "retention_months": 84,
                "signed_on": "2025-06-20",
                "review_on": "2027-06-20",
            },
        ),
        (
            "/response-times",
            {
                "working_days": {
                    "triage": 5,
                    "consent": 10,
                    "assessment": 20,
                    "report": 10,
                    "feedback": 10,
                    "review": 10,
                },
                "effective_from": "2025-06-01",
            },
        ),
    ]
    steps += [
        ("/term-dates", {"academic_year": year, "terms": t})
        for year, t in terms(area.nation).items()
    ]
    steps += [
        (
            "/settings",
            {
                "setting_id": setting,
                "name": setting.replace("-", " ").title(),
                "kind": "school",
                "lead_name": "Setting Lead",
                "enrolled_on": "2025-07-01",
            },
        )
        for setting in area.settings[:2]
    ]
    return steps
