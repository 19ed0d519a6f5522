"""When each company of the fake AlphaVantage universe reports its earnings (apis.md B1).

Each company reports every 91 days from a date its own :func:`rng` picks; a report's row
carries its own estimate and time of the day, and its quarter reaches EARNINGS at the
report's time (:meth:`Report.published_at`), on the fake's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from signal9_tools.fakes.universe import Company, rng

REPORT_CYCLE_DAYS = 91
CYCLE_ORIGIN = date(2020, 1, 1)


# [U] When a report reaches EARNINGS (New York time): apis.md records only "pre-market" and
# "post-market". Pre-market reporters publish before the 09:30 open, post-market ones after
# the 16:00 close; the fake publishes them at these times, a calendar row with no time as
# post-market. The fake decides this on its own clock, never from what a client sends.
PUBLISHED_AT = {"pre-market": clock_time(8, 0), "post-market": clock_time(16, 30)}
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Report:
    company: Company
    report_date: date
    time_override: str | None = None

    def _picks(self) -> tuple[str, str]:
        """The estimate and the time of the day, the calendar row's own random choices."""
        pick = rng(self.company, f"estimate/{self.report_date}")
        estimate = "" if pick.random() < 0.15 else f"{pick.uniform(-0.5, 4.5):.2f}"
        when = "" if pick.random() < 0.05 else pick.choice(("pre-market", "post-market"))
        return estimate, when if self.time_override is None else self.time_override

    @property
    def time_of_the_day(self) -> str:
        return self._picks()[1]

    @property
    def fiscal_date_ending(self) -> date:
        return quarter_end_before(self.report_date - timedelta(days=20))

    def published_at(self, delay: timedelta = timedelta(0)) -> datetime:
        """When EARNINGS starts holding this report's quarter (UTC)."""
        local = PUBLISHED_AT.get(self.time_of_the_day, PUBLISHED_AT["post-market"])
        return datetime.combine(self.report_date, local, tzinfo=NEW_YORK).astimezone(UTC) + delay

    def row(self) -> tuple[str, ...]:
        estimate, when = self._picks()
        return (
            self.company.symbol,
            self.company.name,
            self.report_date.isoformat(),
            self.fiscal_date_ending.isoformat(),
            estimate,
            "USD",
            when,
        )


def quarter_end_before(day: date) -> date:
    """The last calendar quarter end on or before ``day``."""
    for month, last in ((12, 31), (9, 30), (6, 30), (3, 31)):
        end = date(day.year, month, last)
        if end <= day:
            return end
    return date(day.year - 1, 12, 31)


def cycle_offset(company: Company) -> int:
    """Days after ``CYCLE_ORIGIN`` of ``company``'s first report, before any shift (its own, fixed)."""
    return rng(company, "earnings").randrange(REPORT_CYCLE_DAYS)
