"""The Signal9 CrossGuard policy pack: `pulumi preview --policy-pack policy`.

Only the pack is built here (constructing PolicyPack starts the analyzer's gRPC server
and blocks). The rules and their adapters live in signal9/policy_rules.py, which the
offline `signal9 check` command and the tests run too.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The pack runs from its own virtualenv; the rules are imported from the repository checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signal9.policy_rules import crossguard_policies

PolicyPack(
    name="signal9",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=crossguard_policies(),
)
