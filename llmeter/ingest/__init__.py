"""The call-log ingest endpoint: record rules, durable spool files and the HTTP server."""
