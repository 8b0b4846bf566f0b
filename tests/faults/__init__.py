"""Helper programs for tests/test_fault_injection.py, each run as its own process."""
