"""The customer and tags that `record` uses when the call does not pass them."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

_Function = TypeVar("_Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Attribution:
    """A customer id and tags in effect for the calls of a context."""

    customer_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)


_NO_ATTRIBUTION = Attribution()
_CURRENT: contextvars.ContextVar[Attribution | None] = contextvars.ContextVar(
    "llmeter_sdk_attribution", default=None
)


def current_attribution() -> Attribution:
    """Return the customer and tags of the innermost `customer(...)` scope, if any."""
    return _CURRENT.get() or _NO_ATTRIBUTION


class CustomerScope:
    """Sets the customer and tags of every `record` call inside it.

    Use it as a context manager (`with customer("acme"):`) or a decorator (`@customer("acme")`,
    for plain and `async def` functions). Scopes nest: an inner scope replaces the customer and
    adds its tags to the outer ones. The values live in a context variable, so each thread and
    each asyncio task gets its own scope. A task created inside a scope inherits it. A thread
    started inside a scope does not, unless it runs under `contextvars.copy_context().run`.
    """

    def __init__(self, customer_id: str, tags: Mapping[str, Any]) -> None:
        self.customer_id = customer_id
        self.tags = dict(tags)
        self._tokens: list[contextvars.Token[Attribution | None]] = []

    def __enter__(self) -> CustomerScope:
        outer = current_attribution()
        merged = Attribution(self.customer_id, {**outer.tags, **self.tags})
        self._tokens.append(_CURRENT.set(merged))
        return self

    def __exit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _CURRENT.reset(self._tokens.pop())

    def __call__(self, function: _Function) -> _Function:
        import inspect  # imported here because it is slow to import and only decorators need it

        customer_id, tags = self.customer_id, self.tags

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with CustomerScope(customer_id, tags):
                    return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with CustomerScope(customer_id, tags):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def customer(customer_id: str, **tags: str) -> CustomerScope:
    """Attribute every `record` call in a block or function to a customer, with tags.

    An explicit `customer_id` or `tags` argument of `record` wins over the scope. Invalid values
    are not checked here (this never raises); `record` counts them as invalid.

    Example:
        with llmeter_sdk.customer("acme", feature="search"):
            llmeter_sdk.record(client.chat.completions.create(...))
    """
    return CustomerScope(customer_id, tags)
