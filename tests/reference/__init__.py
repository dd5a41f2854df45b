"""The NumPy reference's own tests: closed forms, conv, finite differences, numerical stability."""
