"""The receiver's data layer: the only code that uses boto3."""
