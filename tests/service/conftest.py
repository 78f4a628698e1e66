from tests.service.fixtures import service  # noqa: F401  (shared fixture)
