"""Calls made at the same moment from their own threads, each on its own database connection."""

import threading
from collections.abc import Callable
from typing import Any


def at_once(*calls: Callable[[], Any], timeout: float = 30) -> list[Any]:
    """Run `calls` together (released by one barrier) and return, in their order, what each returned or raised.

    Each thread closes its database connection when done, so a transaction test's teardown is not kept waiting.
    """
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcomes[index] = call()
        except Exception as exc:  # returned to the test, which says what it expects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes
