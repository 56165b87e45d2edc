"""The sync layer: blocking twins of the async classes, over one background event loop."""
