"""Infrastructure tests: template invariants, lint, build inputs and the event contract."""
