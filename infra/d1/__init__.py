"""D1 schema migrations: the migration folder format and the runner, over any D1 query client."""
