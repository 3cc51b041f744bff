"""The triage service: screens referrals against the area's criteria and records
triage decisions and meetings. For now it follows the referrals it will triage."""
