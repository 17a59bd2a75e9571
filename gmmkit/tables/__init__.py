"""Reading tables: one format layer for in-memory and chunked readers."""
