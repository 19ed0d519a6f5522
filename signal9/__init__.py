"""Signal9's model: what the program is, as data and pure functions.

The catalog (docs/contract.md as data), the stack-config contract, naming, the IAM access matrix,
key policy, cron rules, the dashboard, the policy rules and the deploy identities' policies.
``__main__.py``, ``bootstrap/__main__.py``, ``components/`` and the CrossGuard pack import
from here; nothing here imports ``signal9_tools`` or ``components`` (tests/test_layers.py).
"""
