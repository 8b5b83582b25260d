"""The webhook receiver: each provider's unsubscribe webhook, authenticated, becomes one
everywhere-event on the relay's queue (README, "Listening for STOPs")."""
