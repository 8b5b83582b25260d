"""Property-based and regression tests of the handler against hostile message bodies (issue 9)."""
