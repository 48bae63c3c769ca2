"""Argon2id at OWASP's minimum (m=19 MiB, t=2, p=1), tunable from the environment.

Django's defaults (PBKDF2 1.5M iterations, or Argon2 at 100 MiB) cost 0.3-0.5 s
per hash here, which alone would exceed the registration target.
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class TunedArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"

    # The stubs declare these as plain int attributes; Django only reads them,
    # so read-only properties (resolved from settings at call time) are safe.
    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM
