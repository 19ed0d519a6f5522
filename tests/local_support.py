"""What the `signal9 local up` tests share."""

# The dev run the suite shares (tests/test_local.py, both transports) serves the built-in fakes'
# first 12 companies: every flow still runs (the familiar tickers, share classes and a unit, the
# arranged earnings reporters, news), with a third of `make local`'s first pollenations.
SMALL_UNIVERSE = 12
# Runs that check one thing on purpose (a breakage, the staging key, given endpoints, verify)
# serve the first 6 (AAPL, MSFT, IBM, NVDA, TSLA, BRK.B): the arranged reporters, the symbols
# the smoke's own checks name and a share class; the smoke takes about a third less time.
BREAKAGE_UNIVERSE = 6
