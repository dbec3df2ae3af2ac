"""Reads that a block of work repeats, made once: alert intake opens a storm's hundred incidents in one transaction,
and each would read the same escalation policy, routing rules and subscriptions again.

Inside `memoized()`, a function decorated with `@memo` answers the same arguments with its first answer; outside, it
reads afresh on every call. Use it only for configuration that the block does not change, and do not mutate what it
returns: the next caller in the block gets the same objects.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_answers: ContextVar[dict[Hashable, object] | None] = ContextVar("memo", default=None)


@contextmanager
def memoized() -> Iterator[None]:
    """Remember `@memo` functions' answers until the block ends (a nested block shares the outer one's)."""
    if _answers.get() is not None:
        yield
        return
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def memo(func: Callable[P, R]) -> Callable[P, R]:
    """Answer from memory inside `memoized()`; the arguments must be hashable."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        answers = _answers.get()
        if answers is None:
            return func(*args, **kwargs)
        key = (func, args, tuple(sorted(kwargs.items())))
        if key not in answers:
            answers[key] = func(*args, **kwargs)
        return answers[key]  # type: ignore[return-value]

    return wrapper
