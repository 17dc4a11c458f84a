"""The member digest pipeline, one module per step.

periods (digest time) → planning (a run and its deliveries) → content (what members may see that
changed) → rendering (the email, once per distinct content) → sending (SMTP, one outcome committed
per message) → sweeping (work the broker lost or a dead worker left); preview is the admin's view.
Nothing here knows Celery: functions return the delivery ids to send, and `bargaining.tasks`
enqueues them.
"""
