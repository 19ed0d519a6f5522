"""AlphaVantage's answers other than data, for the fake: each :class:`Fault` with the real wording (apis.md B9).

Every such answer is HTTP 200 with a one-key JSON body (``Error Message``, ``Information`` or
``Note``), but for ``{}`` and the transport faults (a 502, a slow answer, a reset, a connection
dropped mid-body, a body that stops early). Wording marked [U] in apis.md is reproduced as
documented there and flagged here.
"""

from __future__ import annotations

from enum import StrEnum

DOCS = "https://www.alphavantage.co/documentation"
PREMIUM = "https://www.alphavantage.co/premium/"


class Fault(StrEnum):
    """An answer :meth:`AlphaVantageFake.inject` can force, with the real wording (apis.md B9)."""

    INVALID_API_CALL = "invalid_api_call"
    INVALID_KEY = "invalid_key"
    DAILY_QUOTA = "daily_quota"
    DAILY_QUOTA_THANKS = "daily_quota_thanks"
    BURST = "burst"
    PREMIUM_RATE = "premium_rate"
    PREMIUM_ENDPOINT = "premium_endpoint"
    DEMO_KEY = "demo_key"
    LEGACY_NOTE = "legacy_note"
    UNUSUAL_ACTIVITY = "unusual_activity"
    HIGH_TRAFFIC = "high_traffic"
    INVALID_INPUTS = "invalid_inputs"
    NO_ARTICLES = "no_articles"
    EMPTY = "empty"
    SERVER_ERROR = "server_error"
    SLOW = "slow"
    RESET = "reset"
    """The connection closed before any answer."""
    DROPPED = "dropped"
    """The real answer's headers, half its body, then the connection closed."""
    TRUNCATED = "truncated"
    """A complete HTTP answer whose body stops early: a CSV at a line boundary about halfway, JSON mid-document."""


def error_body(fault: Fault, *, function: str, api_key: str, requests_per_minute: int | None = None) -> dict[str, str]:
    """The JSON body AlphaVantage sends for ``fault`` (HTTP 200)."""
    texts: dict[Fault, tuple[str, str]] = {
        Fault.INVALID_API_CALL: (
            "Error Message",
            f"Invalid API call. Please retry or visit the documentation ({DOCS}/) for {function}.",
        ),
        Fault.INVALID_KEY: (
            "Error Message",
            "the parameter apikey is invalid or missing. Please claim your free API key on "
            "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.",
        ),
        Fault.DAILY_QUOTA: (
            "Information",
            f"We have detected your API key as {api_key} and our standard API rate limit is 25 requests per day. "
            f"Please subscribe to any of the premium plans at {PREMIUM} to instantly remove all daily rate limits.",
        ),
        Fault.DAILY_QUOTA_THANKS: (
            "Information",
            "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. "
            f"Please subscribe to any of the premium plans at {PREMIUM} to instantly remove all daily rate limits.",
        ),
        Fault.BURST: (
            "Information",
            "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
            f"sparingly (1 request per second). You may subscribe to any of the premium plans at {PREMIUM} to "
            "lift the free key rate limit (25 requests per day), raise the per-second burst limit, and instantly "
            "unlock all premium endpoints",
        ),
        # [U] apis.md has no recorded premium per-minute text; this one says what such a text must say.
        Fault.PREMIUM_RATE: (
            "Information",
            f"Thank you for using Alpha Vantage! Your premium plan allows {requests_per_minute or 75} requests "
            f"per minute. Please spread out your requests or upgrade at {PREMIUM} for a higher API call frequency.",
        ),
        Fault.PREMIUM_ENDPOINT: (
            "Information",
            f"Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the "
            f"premium plans at {PREMIUM} to instantly unlock all premium endpoints",
        ),
        Fault.DEMO_KEY: (
            "Information",
            "The **demo** API key is for demo purposes only. Please claim your free API key at "
            "(https://www.alphavantage.co/support/#api-key) to explore our full API offerings. "
            "It takes fewer than 20 seconds.",
        ),
        Fault.LEGACY_NOTE: (
            "Note",
            "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 "
            f"calls per day. Please visit {PREMIUM} if you would like to target a higher API call frequency.",
        ),
        # [U] Not recorded: throttle wordings have changed several times (apis.md B9) and the next one
        # need not contain any word of the recorded ones. These two share none of them on purpose.
        Fault.UNUSUAL_ACTIVITY: (
            "Information",
            "We have detected unusual activity from your API key. Please wait a moment before sending "
            f"further requests, or visit {PREMIUM} for higher limits.",
        ),
        Fault.HIGH_TRAFFIC: (
            "Note",
            "Thank you for using Alpha Vantage! Our servers are experiencing heavy load. Please try again shortly.",
        ),
        Fault.INVALID_INPUTS: (
            "Information",
            f"Invalid inputs. Please refer to the API documentation {DOCS}#newsapi and try again.",
        ),
        Fault.NO_ARTICLES: (
            "Information",
            "No articles found. Please adjust the time range or refer to the API documentation "
            f"{DOCS}#newsapi and try again.",
        ),
    }
    if fault not in texts:
        return {}
    key, text = texts[fault]
    return {key: text}
