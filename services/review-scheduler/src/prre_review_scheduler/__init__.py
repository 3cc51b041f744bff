"""The review scheduler: follow-up reviews and response-time targets.

It keeps durable timers for every case (a review's due date, each stage's
response-time target, counted in the area's working days), records each
timer's outcome exactly once, and lets a clinician complete a review.
"""
