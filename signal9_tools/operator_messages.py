"""What an operator can fix, said in one line: the CLI prints it and exits 2 instead of a traceback.

Two kinds: ``signal9.errors.OperatorError`` (a bad stack file or config value), and the
AWS failures every AWS-facing subcommand can meet before it gets anywhere: no credentials,
an expired or rejected token, AccessDenied, an endpoint it cannot reach. Each message names
what is missing and how to get it (the operator roles are the ones docs/deploy.md names).
"""

from __future__ import annotations

import os

from signal9.errors import OperatorError

# The deploy roles trust GitHub's OIDC jobs only: people use an operator role (bootstrap config).
OPERATOR_ROLE = (
    "an operator role listed in signal9-bootstrap:operatorArns (docs/deploy.md, 'Manual deploy (break glass)')"
)
CREDENTIALS_HOWTO = (
    "use credentials for the stack's AWS account: `export AWS_PROFILE=<profile>` "
    f"(after `aws sso login --profile <profile>` for an SSO profile) for {OPERATOR_ROLE}"
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
REJECTED_CODES = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"}
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "KMS.AccessDeniedException",
    }
)


# botocore's words for an endpoint URL it cannot use (botocore.endpoint.EndpointCreator).
INVALID_ENDPOINT = "Invalid endpoint: "


def operator_message(
    error: Exception, stack: str | None = None, permissions: str | None = None, profile: str | None = None
) -> str | None:
    """The one-line explanation of ``error``, or None when it is a bug (let it raise).

    ``permissions`` is what the subcommand calls in AWS (its parser's ``aws_permissions`` default);
    ``profile`` the AWS profile its ``--profile`` named, if any.
    """
    if isinstance(error, OperatorError | FileNotFoundError):
        return str(error)
    if isinstance(error, ValueError) and str(error).startswith(INVALID_ENDPOINT):
        url = str(error).removeprefix(INVALID_ENDPOINT)
        source = "AWS_ENDPOINT_URL" if os.environ.get("AWS_ENDPOINT_URL") == url else "the AWS config's endpoint_url"
        return (
            f"{source} is {url!r}, not a URL botocore accepts (e.g. http://127.0.0.1:5000 for a local emulator): "
            "correct it or unset it"
        )
    # Imported here, on the error path only: the offline subcommands never load botocore.
    from botocore import exceptions as aws

    where = f" for stack {stack!r}" if stack else ""
    if isinstance(error, aws.ProfileNotFound):
        missing = error.kwargs.get("profile")
        source = "--profile" if profile and profile == missing else "AWS_PROFILE"
        return f"AWS profile {missing!r} ({source}) is not in ~/.aws/config: {CREDENTIALS_HOWTO}"
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return f"no AWS credentials found{where}: {CREDENTIALS_HOWTO}"
    if isinstance(error, aws.TokenRetrievalError | aws.SSOTokenLoadError | aws.UnauthorizedSSOTokenError):
        return f"the AWS SSO session has expired or is missing ({error}): run `aws sso login --profile <profile>` and retry"
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        override = os.environ.get("AWS_ENDPOINT_URL")
        hint = f"AWS_ENDPOINT_URL is set to {override}: unset it" if override else "check the network, VPN or proxy"
        return f"cannot reach AWS at {error.kwargs.get('endpoint_url')}: {hint}, then retry"
    if isinstance(error, aws.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        operation = error.operation_name
        if code in EXPIRED_CODES:
            return f"the AWS session token has expired ({code} on {operation}): renew it, {CREDENTIALS_HOWTO}"
        if code in REJECTED_CODES:
            return f"AWS rejected the credentials ({code} on {operation}): {CREDENTIALS_HOWTO}"
        if code in DENIED_CODES:
            needed = f" (this command needs {permissions})" if permissions else ""
            return (
                f"{code} on {operation}{where}: the credentials in use lack a permission{needed}; use {OPERATOR_ROLE}"
            )
    return None
