"""The Signal9 CrossGuard policy pack: `pulumi preview --policy-pack policy`.

Only the pack is built here (constructing PolicyPack starts the analyzer's gRPC server
and blocks). The rules and their adapters live in signal9/policy_rules.py, which the
offline `signal9 check` command and the tests run too.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

# The project's virtualenv (PulumiPolicy.yaml) has the project installed, rules included.
from signal9.policy_rules import crossguard_policies

PolicyPack(
    name="signal9",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=crossguard_policies(),
)
