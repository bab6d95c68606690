"""Events become structured logs, metrics and alerts (no Qt widgets, no direct UI calls)."""
