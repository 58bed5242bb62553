"""Background work: a Redis Streams queue that any worker consumes, crash-safe by reclaiming."""
