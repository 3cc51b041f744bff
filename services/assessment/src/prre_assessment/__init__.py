"""The assessment service: assessments, reports, feedback meetings and action
plans. For now it follows the referrals whose consent it will check."""
