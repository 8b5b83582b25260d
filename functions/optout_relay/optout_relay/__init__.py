"""optout-relay: the Lambda function that relays SMS opt-outs to every provider."""
