"""The team tests' servers: a real SeaweedFS (S3) and a real local Ray cluster, once per run."""

from tests.ray_cluster import ray_cluster  # noqa: F401 - a fixture
from tests.seaweed import s3_env, seaweed  # noqa: F401 - fixtures
