"""numbat-logs: CDN access logs to npm-style download counts."""
