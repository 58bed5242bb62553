"""Rate limits as routes apply them: the caller of a request, counted by `app.auth.rate_limit`."""

from __future__ import annotations

from sanic import Request

from app.auth.rate_limit import check_rate


async def rate_limit(request: Request, bucket: str, per_minute: int) -> None:
    """Count this request against the caller's `bucket`; beyond `per_minute` it is refused (429)."""
    await check_rate(
        request.app.ctx.redis,
        key_prefix=request.app.ctx.settings.redis.key_prefix,
        bucket=bucket,
        user_id=request.ctx.auth.principal.user_id,
        per_minute=per_minute,
    )
