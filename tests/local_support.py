"""What the `signal9 local up` tests share."""

# Runs that check one thing on purpose (a breakage, the staging key, given endpoints) serve the
# built-in fakes' first 12 companies: every flow still runs (the familiar tickers, the arranged
# earnings reporters, news), with a third of the dev run's first pollenations.
SMALL_UNIVERSE = 12
