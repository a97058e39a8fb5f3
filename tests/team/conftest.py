"""The team tests' servers: SeaweedFS (tests/seaweed.py)."""

from tests.seaweed import s3_env, seaweed  # noqa: F401 - fixtures
