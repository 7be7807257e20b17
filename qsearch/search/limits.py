"""How far a study may go: its budget of trials, its deadline and the size of each ask,
checked before anything is written."""

from __future__ import annotations

import time

from qsearch.errors import QSearchError


def check_limits(budget: int | None, timeout: float | None, batch_size: int | None) -> None:
    """Refuse a missing or malformed budget, timeout or batch size in one line."""
    if budget is None and timeout is None:
        raise QSearchError("a study needs a budget (trials) or a timeout (seconds)")
    for name, value in (("budget", budget), ("batch size", batch_size)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise QSearchError(f"{name} {value!r} must be a whole number, at least 1")
    if timeout is not None and not timeout > 0:
        raise QSearchError(f"timeout {timeout!r} must be a number of seconds above 0")


def room(batch_size: int, budget: int | None, done: int) -> int:
    """Tables to ask for next: a batch, no more than the budget leaves."""
    return batch_size if budget is None else min(batch_size, budget - done)


def within(budget: int | None, done: int, deadline: float | None) -> bool:
    """Whether the budget and the deadline both leave room for another ask."""
    return (budget is None or done < budget) and (deadline is None or time.monotonic() < deadline)


__all__ = ["check_limits", "room", "within"]
