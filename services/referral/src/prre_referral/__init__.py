"""The referral service: areas and their settings, referrals, consent and the
child's personal data, which never leaves this service."""
