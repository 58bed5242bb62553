"""Route paths that are advertised to clients, defined once so configs and routes cannot disagree."""

CHAT_SOCKET = "/end_user/v2/code-gen/generate-code-ws"
REVIEW_SOLVER = "/end_user/v1/ide-reviews/review-solver"
REVIEW_POST_PROCESS_SOLVER = "/end_user/v1/ide-reviews/post-process-solver"
LOGIN_PAGE = "/external-auth"
TELEMETRY_SINK = "/telemetry"

# Reference-server areas that docs/protocol.md §1.1 puts out of scope: every route under them answers 501.
OUT_OF_SCOPE_PREFIXES = (
    "/end_user/v2/ide-reviews",
    "/end_user/v1/websocket-connection",
    "/end_user/v1/binary-upload",
    "/end_user/v1/websocket-test",
    "/end_user/v1/auth/sign-up",
)

# IDE-review routes of the reference server that the extension never calls (docs/review-protocol.md §4.13): its
# gateway integration targets, unauthenticated there, and review-level feedback. Each answers 501.
OUT_OF_SCOPE_IDE_REVIEW_ROUTES = (
    "/end_user/v1/ide-reviews/run-agent",
    "/end_user/v1/ide-reviews/post-process",
    "/end_user/v1/ide-reviews/legacy-run-agent",
    "/end_user/v1/ide-reviews/legacy-post-process",
    "/end_user/v1/ide-reviews/reviews/<review_id>/feedback",
)
