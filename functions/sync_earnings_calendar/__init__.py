"""SyncEarningsCalendar Lambda handler (``functions.sync_earnings_calendar.handler.handler``)."""
