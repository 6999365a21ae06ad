"""Helpers shared by the tests: isolated DDS domains and child processes."""
