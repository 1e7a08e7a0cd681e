"""Component resources of the trading platform stack, one concern per module."""
