"""What the `signal9 local up` tests share."""

# The suite's `local up` runs serve the built-in fakes' first 6 companies (AAPL, MSFT, IBM, NVDA,
# TSLA, BRK.B): every flow runs (the arranged earnings reporters, the symbols the smoke's checks
# name, a share class, news), with a seventh of `make local`'s first pollenations. `make local`
# (CI runs it after the suite) serves all 40, units and generated symbols included.
SMALL_UNIVERSE = 6
