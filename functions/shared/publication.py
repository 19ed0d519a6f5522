"""How long an announced earnings report may take to reach AlphaVantage's EARNINGS.

Plain constants without the AWS SDK, so the program (signal9.dashboard's earnings-overdue alarm)
shares the window with the handlers (functions.shared.earnings_calendar) without loading boto3.
"""

PUBLICATION_DAYS = 5
