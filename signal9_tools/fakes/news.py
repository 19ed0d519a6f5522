"""The fake AlphaVantage's news feed (apis.md B2): the articles published in each hour.

News arrives at a fixed number of articles per hour, each mentioning one to three companies
and sometimes tickers Signal9 does not hold (``CRYPTO:BTC``, ``FOREX:USD``, foreign
listings), with sentiment and relevance scores in the real document's shape. Every hour's
articles are the same in every run (``universe.rng``) but for the zone their
``time_published`` is written in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from signal9_tools.fakes.universe import Company, rng

SENTIMENT_DEFINITION = (
    "x <= -0.35: Bearish; -0.35 < x <= -0.15: Somewhat-Bearish; -0.15 < x < 0.15: Neutral; "
    "0.15 <= x < 0.35: Somewhat_Bullish; x >= 0.35: Bullish"
)
RELEVANCE_DEFINITION = "0 < x <= 1, with a higher score indicating higher relevance."
# Tickers the feed mentions that are not (US equity) Signal9 assets.
OTHER_TICKERS = ("CRYPTO:BTC", "FOREX:USD", "CBSU", "TCEHY", "SHEL")
TOPICS = {
    "blockchain": "Blockchain",
    "earnings": "Earnings",
    "ipo": "IPO",
    "mergers_and_acquisitions": "Mergers & Acquisitions",
    "financial_markets": "Financial Markets",
    "economy_fiscal": "Economy - Fiscal",
    "economy_monetary": "Economy - Monetary",
    "economy_macro": "Economy - Macro",
    "energy_transportation": "Energy & Transportation",
    "finance": "Finance",
    "life_sciences": "Life Sciences",
    "manufacturing": "Manufacturing",
    "real_estate": "Real Estate & Construction",
    "retail_wholesale": "Retail & Wholesale",
    "technology": "Technology",
}
SOURCES = (("CNBC", "www.cnbc.com"), ("Benzinga", "www.benzinga.com"), ("Motley Fool", "www.fool.com"))


def sentiment_label(score: float) -> str:
    if score <= -0.35:
        return "Bearish"
    if score <= -0.15:
        return "Somewhat-Bearish"
    if score < 0.15:
        return "Neutral"
    if score < 0.35:
        return "Somewhat-Bullish"
    return "Bullish"


@dataclass(frozen=True)
class Article:
    published: datetime  # the instant (UTC); the document's time_published is in the fake's clock_zone
    tickers: tuple[str, ...]
    topics: tuple[str, ...]
    relevance: float
    document: dict[str, Any]


def hour_articles(companies: tuple[Company, ...], per_hour: int, hour: int, zone: tzinfo = UTC) -> tuple[Article, ...]:
    """The articles published in epoch hour ``hour``, oldest first (the same in every run but for ``zone``).

    ``time_published`` is the publication's wall time in ``zone``, without a zone, as AlphaVantage writes it.
    """
    articles = []
    for index in range(per_hour):
        pick = rng(f"news/{hour}/{index}")
        second = int((index + pick.random()) * 3600 / per_hour)
        published = datetime.fromtimestamp(hour * 3600 + second, UTC)
        mentioned = pick.sample(companies, k=min(len(companies), pick.randint(1, 3)))
        tickers = [c.symbol for c in mentioned] + [t for t in OTHER_TICKERS if pick.random() < 0.12]
        topics = pick.sample(sorted(TOPICS.values()), k=pick.randint(1, 3))
        source, domain = pick.choice(SOURCES)
        overall = round(pick.uniform(-0.6, 0.6), 6)
        lead = mentioned[0].name if mentioned else "Markets"
        ticker_sentiment = []
        for ticker in tickers:
            score = pick.uniform(-0.7, 0.7)
            ticker_sentiment.append(
                {
                    "ticker": ticker,
                    "relevance_score": f"{pick.uniform(0.01, 1):.6f}",
                    "ticker_sentiment_score": f"{score:.6f}",
                    "ticker_sentiment_label": sentiment_label(score),
                }
            )
        document = {
            "title": f"{lead}: what analysts say ({published:%b %d %H:%M})",
            "url": f"https://{domain}/{published:%Y/%m/%d}/news-{hour}-{index}.html",
            "time_published": published.astimezone(zone).strftime("%Y%m%dT%H%M%S"),
            "authors": [] if pick.random() < 0.2 else [f"Reporter {pick.randint(1, 40)}"],
            "summary": f"A summary of today's news about {', '.join(tickers)}.",
            "banner_image": None if pick.random() < 0.1 else f"https://{domain}/images/{hour}-{index}.jpeg",
            "source": source,
            "category_within_source": pick.choice(("Investing", "Markets", "n/a")),
            "source_domain": domain,
            "topics": [{"topic": t, "relevance_score": f"{pick.uniform(0.1, 1):.6f}"} for t in topics],
            "overall_sentiment_score": overall,
            "overall_sentiment_label": sentiment_label(overall),
            "ticker_sentiment": ticker_sentiment,
        }
        relevance = max(float(t["relevance_score"]) for t in ticker_sentiment)
        articles.append(Article(published, tuple(tickers), tuple(topics), relevance, document))
    return tuple(articles)
