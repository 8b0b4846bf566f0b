"""Great Expectations audit of the build database, run before the marts are published."""

from expectations.suites import CheckResult, ValidationReport, prepare, validate_build

__all__ = ["validate_build", "prepare", "ValidationReport", "CheckResult"]
