"""The triage service: screens referrals against the area's criteria and
thresholds, records triage decisions and triage meetings, and serves the
triage queue and each referral's triage record."""
