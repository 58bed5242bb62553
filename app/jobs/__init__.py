"""Background jobs: one interface on Redis Streams or Kafka, job records, workers, schedules (docs/jobs.md)."""
