"""The project's own tests, by what they test (the conformance matrix itself is conformance/suite)."""
