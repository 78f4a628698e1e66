"""GraphQL adapter (strawberry) over the service layer."""
