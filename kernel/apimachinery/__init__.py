"""Generic API machinery: Status errors, request parsing helpers, and (later) REST handlers."""
