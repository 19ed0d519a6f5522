"""MarkEarningsProcessed Lambda handler (``functions.mark_earnings_processed.handler.handler``)."""
