"""numbat-logs: CDN access logs to download counts (see issue #5)."""
