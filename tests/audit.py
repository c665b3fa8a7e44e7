"""The shop's invariants as a test assertion: end every reliability test with `assert_audit_clean()`."""

import pytest

from checkout.audit import audit_run


def assert_audit_clean() -> None:
    """Fail the test with the audit's report if any of the shop's invariants does not hold."""
    report = audit_run()
    if not report.passed:
        pytest.fail(f"The audit found problems:\n{report.text()}", pytrace=False)
