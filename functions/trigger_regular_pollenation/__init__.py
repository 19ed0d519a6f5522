"""TriggerRegularPollenation Lambda handler (``functions.trigger_regular_pollenation.handler.handler``)."""
