"""Developer tools for optout-relay: provider simulators, local demo and operator CLI."""
