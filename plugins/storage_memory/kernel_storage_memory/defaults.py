"""The memory store's defaults: a module of their own, so the plugin's options can name them without
importing the store (imported only when a store is made)."""

DEFAULT_HISTORY = 10000  # revisions of history kept for lists and watches at past resourceVersions
