"""TriggerEarningsPollenation Lambda handler (``functions.trigger_earnings_pollenation.handler.handler``)."""
