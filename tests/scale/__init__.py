"""Scaled-out werk: process roles (ingest, worker, API) over NATS JetStream and PostgreSQL."""
