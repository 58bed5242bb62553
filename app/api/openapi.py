"""What each HTTP route takes and answers, declared for the OpenAPI document at /docs.

Routes declare their pydantic models with `@documented(...)`, which only records the declaration: nothing is
generated at import. `app.api.openapi_document` turns the declarations into the document. Success bodies are
declared as the payload type and shown inside the docs/protocol.md §1.4 envelope (`Envelope`); every error
answers the error envelope (`ErrorEnvelope`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
BUILTIN_NAMES = {type(None): "Null", str: "Text", int: "Integer", float: "Number", bool: "Boolean"}


def type_name(tp: Any) -> str:
    """A component-safe name for a payload type: `SessionPage`, `RepositoryList`, `Null`, `Text`."""
    if tp is None or tp in BUILTIN_NAMES:
        return BUILTIN_NAMES[type(None) if tp is None else tp]
    origin = get_origin(tp)
    if origin is list:
        return f"{type_name(get_args(tp)[0])}List"
    if origin is dict:
        return f"{type_name(get_args(tp)[1])}Map"
    if origin is Union or type(tp).__name__ == "UnionType":
        return "Or".join(type_name(arg) for arg in get_args(tp))
    return getattr(tp, "__name__", "Value")


DEFERRED = ConfigDict(defer_build=True)


class Described(BaseModel):
    """Base of models that only describe a body for the document: pydantic builds them when the document
    (or a test) first uses them, so importing the routes does not pay for them."""

    model_config = DEFERRED


class Envelope(Described, Generic[T]):
    """docs/protocol.md §1.4 success envelope; callers read `data`."""

    data: T
    is_success: Literal[True]
    status_code: int = Field(description="Equal to the HTTP status.")
    meta: dict[str, Any] | None = None


@cache
def enveloped(payload: Any) -> type[BaseModel]:
    """The success envelope around `payload` as a model of its own, named for it: `SessionPageEnvelope`."""
    return create_model(
        f"{type_name(payload)}Envelope", __base__=Envelope[payload], __module__=__name__, __doc__=Envelope.__doc__
    )


class ErrorItem(Described):
    message: str
    field: str | None = Field(default=None, description="The offending field, for validation errors.")


class ErrorBody(Described):
    message: str = Field(description="The error code, e.g. NOT_VERIFIED, INVALID_REQUEST, SESSION_NOT_FOUND.")
    errors: list[ErrorItem]


class ErrorEnvelope(Described):
    """docs/protocol.md §1.4 error envelope, sent with every non-2xx status."""

    is_success: Literal[False]
    status_code: int = Field(description="Equal to the HTTP status.")
    error: ErrorBody
    error_code: int | None = Field(default=None, description="Client-validation code (101-104), §1.3.")
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Header:
    """A request header a route reads."""

    name: str
    description: str
    required: bool = True
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


SESSION_ID = Header("X-Session-ID", "An owned session id (integer as a string); foreign ids answer 404.")
OPTIONAL_SESSION_ID = Header("X-Session-ID", "An owned session id; without it a session is chosen.", False)
SESSION_TYPE = Header("X-Session-Type", "Stored on new sessions, e.g. VSCODE_EXT_SESSION.", False)


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    tag: str | None
    description: str | None
    body: Any
    body_media: str
    query: type[BaseModel] | None
    response: Any
    envelope: bool
    statuses: tuple[int, ...]
    media: str
    errors: tuple[int, ...]
    headers: tuple[Header, ...]
    bearer: bool | None
    rejects_invalid: bool

    @property
    def answer(self) -> Any:
        """The type of the success body (of each event, for a stream): `response`, enveloped for JSON."""
        return enveloped(self.response) if self.envelope and self.media == JSON else self.response

    @property
    def has_schema(self) -> bool:
        if self.media == JSON:
            return self.envelope or self.response is not None
        return self.media == EVENT_STREAM and self.response is not None


_DOCS: dict[Callable[..., Any], RouteDoc] = {}
_EXCLUDED: set[Callable[..., Any]] = set()


def documented(
    *,
    summary: str,
    response: Any,
    tag: str | None = None,
    description: str | None = None,
    body: Any = None,
    body_media: str = JSON,
    query: type[BaseModel] | None = None,
    envelope: bool = True,
    status: int | tuple[int, ...] = 200,
    media: str = JSON,
    errors: Iterable[int] = (),
    headers: Iterable[Header] = (),
    bearer: bool | None = None,
    rejects_invalid: bool = True,
) -> Callable[[F], F]:
    """Declare a route's models for the OpenAPI document; the handler is returned unchanged.

    `response` is the type of `data` in the success envelope (`None`: `data` is null), or of the whole body
    when `envelope=False` (`None` there: no body). For `media=text/event-stream` it is the type of each
    event's `data:` line. `errors` adds statuses beyond those the guards and validation already imply;
    `bearer=True` marks a route that reads the bearer token itself although its guard policy is "none";
    `rejects_invalid=False` a route whose body or query is read leniently, never refused for not matching
    its model (unstorable text is still 422, on every route).
    """
    doc = RouteDoc(
        summary=summary,
        tag=tag,
        description=description,
        body=body,
        body_media=body_media,
        query=query,
        response=response,
        envelope=envelope,
        statuses=status if isinstance(status, tuple) else (status,),
        media=media,
        errors=tuple(errors),
        headers=tuple(headers),
        bearer=bearer,
        rejects_invalid=rejects_invalid,
    )

    def record(handler: F) -> F:
        _DOCS[handler] = doc
        return handler

    return record


def undocumented(handler: F) -> F:
    """Leave a route out of the document (catch-all sinks whose one handler serves many paths)."""
    _EXCLUDED.add(handler)
    return handler


def declaration(handler: Callable[..., Any]) -> RouteDoc | None:
    """What `handler` declared with `@documented`, if anything."""
    return _DOCS.get(handler)


def is_excluded(handler: Callable[..., Any]) -> bool:
    return handler in _EXCLUDED
