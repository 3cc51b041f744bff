"""The review scheduler: durable timers for follow-up reviews and response-time
targets. For now it follows the referrals it will time."""
