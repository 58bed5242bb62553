"""Webhook intake: each platform's signature scheme, its event types and delivery ids, replay refusal."""
