"""What the `signal9 local up` tests share."""

from signal9_tools.emulator.snapshot import DeploySnapshot

# The suite's `local up` runs serve the built-in fakes' first 6 companies (AAPL, MSFT, IBM, NVDA,
# TSLA, BRK.B): every flow runs (the arranged earnings reporters, the symbols the smoke's checks
# name, a share class, news), with a seventh of `make local`'s first pollenations. `make local`
# (CI runs it after the suite) serves all 40, units and generated symbols included.
SMALL_UNIVERSE = 6

# The dev stack as shipped, deployed for real once per test process: by the first run given this
# snapshot, or by an earlier real deploy of it shared with this snapshot (the transports' parity
# test's over HTTP, test_local.py; the snapshot test's, test_deploy_snapshot.py). The later runs
# that deploy it unchanged start from a copy of that deploy (signal9_tools/emulator/snapshot.py). A
# run that changes the program or the config before it deploys, or that tests a deploy itself (the
# deploy audit, the parity test's deploy over HTTP, the deploy after a refused one), deploys for
# real.
DEV_AS_SHIPPED = DeploySnapshot()
