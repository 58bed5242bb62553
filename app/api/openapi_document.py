"""The OpenAPI document at /docs, built from the routes' `@documented` declarations (`app.api.openapi`).

Nothing is generated when the document is disabled (`OAS`), and with it enabled start-up only marks what
sanic-ext must skip: the schemas are generated on the first request of the JSON document. All of them come
from one pydantic pass, so every model nested in another is a named component and every `$ref` resolves.
Bearer auth and the X-Client / X-Client-Version headers follow each route's guard policy
(`app.api.guards`), so the document cannot disagree with what the guards enforce.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from pydantic import TypeAdapter
from sanic import Sanic
from sanic.router import Route

from app.api import paths
from app.api.guards import path_policy
from app.api.openapi import EVENT_STREAM, JSON, ErrorEnvelope, Header, RouteDoc, declaration, is_excluded
from app.runtime.settings import ClientSettings
from app.version import __version__

BEARER = "bearer"
COMPONENTS = "#/components/schemas/{model}"
_APPLIED: set[Any] = set()  # handlers whose operations are complete (operations are per process)
REVIEW_SOCKET = (
    "Not a REST route: upgrade to a WebSocket and exchange one JSON object per text frame as specified in "
    "docs/review-protocol.md §{section}. Every upgrade is accepted; the bearer token (or the message's auth_token) "
    "and the client headers are checked per message and reported in-band (§5.8)."
)
SOCKETS = {  # path -> (summary, description, tag) of each WebSocket route
    paths.CHAT_SOCKET: (
        "The query-solver WebSocket",
        "Not a REST route: upgrade to a WebSocket and exchange one JSON object per text frame as "
        "specified in docs/protocol.md §5 (connection, request kinds, event catalogue, errors and close codes). "
        "The bearer token and the client headers are checked by the socket itself (§5.7).",
        "chat",
    ),
    paths.REVIEW_SOLVER: ("The IDE review agents' WebSocket", REVIEW_SOCKET.format(section=5), "ide-review"),
    paths.REVIEW_POST_PROCESS_SOLVER: (
        "The IDE review post-process WebSocket",
        REVIEW_SOCKET.format(section=6),
        "ide-review",
    ),
}

if TYPE_CHECKING:
    from sanic_ext.extensions.openapi.builders import OperationBuilder, SpecificationBuilder


# sanic-ext is imported only once a document is wanted: Sanic loads it at start-up anyway, while the CLI
# commands that import the app never need it (about 150 ms).
def _operation_of(handler: Any) -> OperationBuilder:
    from sanic_ext.extensions.openapi.builders import OperationStore

    return OperationStore()[handler]


def _specification() -> SpecificationBuilder:
    from sanic_ext.extensions.openapi.builders import SpecificationBuilder

    return SpecificationBuilder()


def install(app: Sanic) -> None:
    """Describe the service in the document and prepare the operations when an app with `OAS` starts."""
    app.config.update(
        API_TITLE="Adjutant",
        API_VERSION=__version__,
        API_DESCRIPTION="Self-hostable backend for AI coding assistants. The chat WebSocket is described in "
        "docs/protocol.md §5; every other route is below.",
    )

    # Before sanic-ext's own spec listener (priority -1000), which skips the routes excluded here.
    @app.before_server_start(priority=0)
    async def prepare_operations(app: Sanic) -> None:
        if app.config.OAS:
            prepare(app)


def prepare(app: Sanic) -> None:
    """At start-up, only what sanic-ext reads then: which routes are left out, and no docstring parsing.
    The schemas (about 75 ms of pydantic work) wait for the first request of the JSON document."""
    for route in app.router.routes:
        handler = route.handler
        if route.extra.websocket:
            _websocket(route)
        elif is_excluded(handler):
            _operation_of(handler).exclude()
        elif declaration(handler) is not None:
            _operation_of(handler).disable_autodoc()
    document = next((r for r in app.router.routes if r.name.endswith(".openapi.spec")), None)
    if document is None:  # a sanic-ext that names its route differently: pay at start-up instead
        declare(app)
        return
    # sanic-ext has no hook before it serves the document, so its route handler is wrapped; sanic-ext
    # builds the document from the operations on every request, so completing them here is enough.
    serve = document.handler

    async def complete_then_serve(request: Any, *args: Any, **kwargs: Any) -> Any:
        declare(request.app)
        return await serve(request, *args, **kwargs)

    document.handler = complete_then_serve


def declare(app: Sanic) -> None:
    """Turn the declarations of the app's routes into sanic-ext operations and components (once each)."""
    pending = [
        (route, declaration(route.handler))
        for route in app.router.routes
        if declaration(route.handler) is not None and route.handler not in _APPLIED
    ]
    if not pending:
        return
    spec = _specification()
    spec.add_security_scheme(
        BEARER,
        "http",
        bearer_format="opaque",
        description="Token from `adjutant token create` or the browser login. A response may carry its "
        "replacement in the `new_session_data` header (docs/protocol.md §2.4).",
    )
    refs, components = _schemas(spec, [doc for _, doc in pending])
    for index, (route, doc) in enumerate(pending):
        _operation(route, doc, index, refs, components, app.ctx.settings.client)
        _APPLIED.add(route.handler)


def _schemas(
    spec: SpecificationBuilder, docs: list[RouteDoc]
) -> tuple[dict[tuple[int, str], dict[str, Any]], dict[str, dict[str, Any]]]:
    """One pydantic pass over every declared type; its `$defs` become the components."""
    inputs: list[tuple[tuple[int, str], Literal["validation", "serialization"], TypeAdapter[Any]]] = [
        ((-1, "error"), "serialization", TypeAdapter(ErrorEnvelope))
    ]
    for index, doc in enumerate(docs):
        if doc.body is not None:
            inputs.append(((index, "body"), "validation", TypeAdapter(doc.body)))
        if doc.query is not None:
            inputs.append(((index, "query"), "validation", TypeAdapter(doc.query)))
        if doc.has_schema:
            inputs.append(((index, "answer"), "serialization", TypeAdapter(doc.answer)))
    refs, document = TypeAdapter.json_schemas(inputs, ref_template=COMPONENTS)
    components = {name: openapi30(schema) for name, schema in document.get("$defs", {}).items()}
    for name, schema in components.items():
        spec.add_component("schemas", name, schema)
    return {key: openapi30(schema) for (key, _mode), schema in refs.items()}, components


def _operation(
    route: Route,
    doc: RouteDoc,
    index: int,
    refs: dict[tuple[int, str], dict[str, Any]],
    components: dict[str, dict[str, Any]],
    client: ClientSettings,
) -> None:
    operation = _operation_of(route.handler)
    operation.name(operation_id(route))
    operation.describe(summary=doc.summary, description=doc.description)
    if doc.tag:
        operation.tags = [doc.tag]  # replaces the blueprint name sanic-ext tagged it with at start-up
    auth, client_policy = path_policy("/" + route.path, route.ctx)
    if auth != "none" or doc.bearer:
        # With optional auth, no token at all is also accepted.
        operation.security = [{BEARER: []}, {}] if auth == "optional" else [{BEARER: []}]
    # Only the path parameters sanic-ext added stay: declaring again (another app) must not repeat any.
    operation.parameters = [p for p in operation.parameters if not isinstance(p, _Raw)]
    for header in (*client_headers(client_policy, client), *doc.headers):
        operation.parameters.append(
            _Raw(
                name=header.name,
                schema=header.schema,
                required=header.required,
                description=header.description,
                **{"in": "header"},
            )
        )
    if doc.query is not None:
        model = _resolve(refs[(index, "query")], components)
        for name, schema in model.get("properties", {}).items():
            required = name in model.get("required", ())
            parameter = _Raw(name=name, schema=schema, required=required, **{"in": "query"})
            if not required:
                # Sanic drops blank query values (`?top_k=`), so an empty one reads as an absent one.
                parameter["allowEmptyValue"] = True
            if "description" in schema:
                parameter["description"] = schema["description"]
            operation.parameters.append(parameter)
    if doc.body is not None:
        schema = refs[(index, "body")]
        operation.requestBody = _Raw(
            content={doc.body_media: {"schema": schema}}, required=bool(_resolve(schema, components).get("required"))
        )
    responses: dict[int, dict[str, Any]] = {}
    for status in doc.statuses:
        responses[status] = {"description": _reason(status)} | _content(doc, refs.get((index, "answer")))
    for status, why in _error_reasons(doc, auth, client_policy).items():
        if status not in doc.statuses:
            responses[status] = {"description": "; ".join(why), "content": {JSON: {"schema": refs[(-1, "error")]}}}
    operation.responses = dict(sorted(responses.items()))


class _Raw(dict[str, Any]):
    """An OpenAPI object written out as JSON. sanic-ext's own classes re-read their type hints on every
    instance (about 1 ms each), which would make start-up pay for hundreds of them; sanic-ext reads only
    `.fields` of a parameter and serialises dicts as they are."""

    @property
    def fields(self) -> dict[str, Any]:
        return self


def operation_id(route: Route) -> str:
    """Unique per route, readable as a generated client's method name: `history_sessions`."""
    return route.name.split(".", 1)[-1].replace(".", "_")


def client_headers(policy: str, client: ClientSettings) -> list[Header]:
    """The docs/protocol.md §1.3 headers a route's guard checks."""
    if policy == "none":
        return []
    headers = [Header("X-Client", "The calling client.", schema={"type": "string", "enum": list(client.accepted)})]
    if policy == "full":
        headers.append(
            Header(
                "X-Client-Version",
                f"Semantic version of the client; below {client.min_version} answers 400 with error_code 101.",
                schema={"type": "string", "example": "16.1.0"},
            )
        )
    return headers


ERROR_REASONS = {
    404: "not found, or not owned by the caller (indistinguishable)",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "rate limited; retry after the Retry-After header",
    502: "PROVIDER_ERROR: the model provider failed",
    503: "unavailable",
}


def _error_reasons(doc: RouteDoc, auth: str, client_policy: str) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = {}
    if client_policy != "none":
        reasons.setdefault(400, []).append("client headers missing, unknown or too old (error_code 101-104)")
    if auth != "none":
        reasons.setdefault(400, []).append("NOT_VERIFIED: the bearer token is missing or unusable")
        reasons.setdefault(503, []).append("AUTH_UNAVAILABLE: the token store cannot be reached")
    if doc.rejects_invalid and (doc.body is not None or doc.query is not None):
        reasons.setdefault(422, []).append("INVALID_REQUEST: the body or query string is not valid")
    # app.api.validation refuses unstorable text on every HTTP route, whatever the route reads; Sanic refuses
    # a request line and headers or a body beyond its limits before any route runs.
    reasons.setdefault(422, []).append(
        "INVALID_REQUEST: a header, query parameter or form field holds NUL, an unpaired surrogate or bytes "
        "that are not UTF-8"
    )
    for status in doc.errors:
        reasons.setdefault(status, []).append(ERROR_REASONS.get(status, _reason(status)))
    reasons.setdefault(413, ["PAYLOAD_TOO_LARGE: the request line and headers, or the body, are too large"])
    reasons.setdefault(500, []).append("INTERNAL_ERROR")
    return reasons


def _content(doc: RouteDoc, schema: dict[str, Any] | None) -> dict[str, Any]:
    if doc.media == JSON:
        return {} if schema is None else {"content": {JSON: {"schema": schema}}}
    if doc.media == EVENT_STREAM:
        stream: dict[str, Any] = {"schema": {"type": "string", "description": "One JSON object per `data:` line."}}
        if schema is not None:
            stream["x-event-data"] = schema
        return {"content": {EVENT_STREAM: stream}}
    binary = doc.media in ("*/*", "application/octet-stream")
    return {
        "content": {doc.media: {"schema": {"type": "string", "format": "binary"} if binary else {"type": "string"}}}
    }


def _resolve(schema: dict[str, Any], components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[-1]] if ref else schema


def _reason(status: int) -> str:
    return HTTPStatus(status).phrase


def _websocket(route: Route) -> None:
    """Not an HTTP operation: the route is listed so readers find the socket and its contract."""
    operation = _operation_of(route.handler)
    operation.disable_autodoc()
    operation.name(operation_id(route))
    summary, description, tag = SOCKETS.get("/" + route.path, SOCKETS[paths.CHAT_SOCKET])
    operation.describe(summary=summary, description=description)
    operation.tag(tag)
    operation.responses = {101: {"description": _reason(101)}}


def openapi30(schema: Any) -> Any:
    """Pydantic's JSON Schema 2020-12 in the OpenAPI 3.0 dialect that sanic-ext declares (`openapi: 3.0.3`):
    null types become `nullable`, `const` an `enum`, tuples plain arrays, numeric exclusive bounds booleans."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    nullable = False
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: openapi30(item) for name, item in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = openapi30(value)
        elif key in ("anyOf", "oneOf"):
            kept = [item for item in value if item.get("type") != "null"]
            nullable = nullable or len(kept) < len(value)
            out[key] = [openapi30(item) for item in kept]
        elif key in ("allOf", "prefixItems"):
            out[key] = [openapi30(item) for item in value]
        else:
            out[key] = value
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if out.get("type") == "null":
        out.update(type="object", nullable=True, enum=[None])
    if "examples" in out and isinstance(out["examples"], list):
        out["example"] = out.pop("examples")[0]
    for key in ("anyOf", "oneOf"):
        if key in out and len(out[key]) == 1:
            only = out.pop(key)[0]
            out = {**only, **out} if "$ref" not in only else {"allOf": [only], **out}
    if nullable:
        out["nullable"] = True
    if "prefixItems" in out:
        items = []
        for item in out.pop("prefixItems"):
            if item not in items:
                items.append(item)
        out["items"] = items[0] if len(items) == 1 else {"anyOf": items}
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound], out[exclusive] = value, True
    if "$ref" in out and len(out) > 1:  # 3.0 ignores siblings of $ref
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out
