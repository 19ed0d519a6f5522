"""Signal9's operator tooling, behind the ``signal9`` command: plan, check, cost, dlq, docs,
the local emulator and the API fakes.

Tools run the program (under Pulumi's mocks or against the emulator) and read the model in
``signal9``; the program never imports them (tests/test_layers.py).
"""
