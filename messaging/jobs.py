"""The outbox's tick job: after the touchpoints (41–42), send what is due and hand sends
that were interrupted to a person."""

from datetime import datetime

from core import ticks

from . import outbox


@ticks.register("messaging.dispatch", order=43)
def send_messages(now: datetime) -> str:
    swept = outbox.messages_sweep_stuck(now=now)
    return outbox.messages_dispatch(now=now).summary() + f", {swept} interrupted"
