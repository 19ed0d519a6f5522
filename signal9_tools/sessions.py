"""boto3 sessions that share one botocore loader per process.

A new session reads each service's model JSON, the endpoint rules and ``endpoints.json`` again
(~50 ms per service); the models are read-only data. One ``signal9`` command makes one session,
but the emulator's smoke and the test suite run the commands in-process dozens of times.
"""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session

SERVICE_MODELS = botocore.loaders.create_loader()


def aws_session(*, profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A new session (its own credentials, profile and region) reading service models through ``SERVICE_MODELS``."""
    core = botocore.session.Session()
    core.register_component("data_loader", SERVICE_MODELS)
    session = boto3.Session(botocore_session=core, profile_name=profile, region_name=region)
    # boto3 appends its own data directory to the loader's search paths for every session.
    SERVICE_MODELS.search_paths[:] = list(dict.fromkeys(SERVICE_MODELS.search_paths))
    return session
