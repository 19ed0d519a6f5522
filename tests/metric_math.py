"""A small evaluator of CloudWatch metric math and alarm evaluation, for testing alarm definitions.

Written from the documented semantics, not from signal9.dashboard (which generates the
expressions), so a test that evaluates a generated alarm checks it against what CloudWatch does:
- "Metric math syntax and functions"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
  arithmetic between two time series matches datapoints by timestamp and "missing values in a
  time series are treated as 0"; a comparison between two time series treats the value missing
  in one of them as 0; with a scalar the scalar applies to every datapoint; comparisons and
  AND/OR/NOT give 1 or 0; ``IF(condition, trueValue, falseValue)`` gives, per datapoint of the
  condition, trueValue where it is non-zero, falseValue where it is zero.
- ``FILL(m, value)`` "fills the missing values of a time series". The page does not say what it
  does for a series with no datapoint at all in the range, so ``fill_empty`` models both readings
  (default: it stays empty, the reading that must not make an alarm blind).
- MINUTE/HOUR/DAY "take the period and range of the time series and return a new non-sparse time
  series where each value is based on its timestamp" (same page): a value for every period of the
  range, data or not; DAY: 1 = Monday .. 7 = Sunday, HOUR: 0-23, in UTC
  (https://aws.amazon.com/blogs/mt/enhance-cloudwatch-metrics-with-metric-math-functions/).
  ``sparse_dates`` models the opposite reading (a value only where the series has data), to show
  what an alarm would do if CloudWatch differed from its documentation.
- Alarms ("Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing data",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
  each evaluation looks at the last ``evaluation_periods`` datapoints and goes to ALARM when at
  least ``datapoints_to_alarm`` of them breach; a missing datapoint breaches with treat-missing-data
  ``breaching`` and does not with ``notBreaching``.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

Series = dict[int, float]  # epoch seconds (a raw datapoint's time, or a period's start) -> value
Value = Series | float

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[-+*/<>(),]))")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _as_number(compare: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    """A comparison giving 1 or 0, as metric math's comparison operators do."""
    return lambda a, b: float(compare(a, b))


@functools.cache
def _tokens(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SyntaxError(f"cannot read {text[position:]!r}")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    return tuple(tokens)


def _combine(left: Value, right: Value, apply: Callable[[float, float], float]) -> Value:
    if isinstance(left, dict) and isinstance(right, dict):
        # A datapoint missing in one of two series counts as 0 (arithmetic and comparisons alike).
        return {t: apply(left.get(t, 0.0), right.get(t, 0.0)) for t in sorted(left.keys() | right.keys())}
    if isinstance(left, dict):
        return {t: apply(v, float(right)) for t, v in left.items()}  # type: ignore[arg-type]
    if isinstance(right, dict):
        return {t: apply(float(left), v) for t, v in right.items()}
    return apply(left, right)


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@dataclass
class _Parser:
    tokens: tuple[str, ...]
    metrics: Mapping[str, Series]
    timestamps: list[int]  # every period start of the query range
    period: int
    fill_empty: bool
    sparse_dates: bool
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.position]
        if expected is not None and token != expected:
            raise SyntaxError(f"expected {expected!r}, got {token!r}")
        self.position += 1
        return token

    def expression(self) -> Value:
        value = self.conjunction()
        while self.peek() == "OR":
            self.take()
            value = _combine(value, self.conjunction(), lambda a, b: float(bool(a) or bool(b)))
        return value

    def conjunction(self) -> Value:
        value = self.negation()
        while self.peek() == "AND":
            self.take()
            value = _combine(value, self.negation(), lambda a, b: float(bool(a) and bool(b)))
        return value

    def negation(self) -> Value:
        if self.peek() == "NOT":
            self.take()
            return _combine(self.negation(), 0.0, lambda a, _: float(not a))
        return self.comparison()

    def comparison(self) -> Value:
        value = self.additive()
        while (token := self.peek()) in _COMPARE:
            self.take()
            value = _combine(value, self.additive(), _as_number(_COMPARE[token or ""]))
        return value

    def additive(self) -> Value:
        value = self.multiplicative()
        while (token := self.peek()) in ("+", "-"):
            self.take()
            value = _combine(value, self.multiplicative(), _ARITHMETIC[token or ""])
        return value

    def multiplicative(self) -> Value:
        value = self.unary()
        while (token := self.peek()) in ("*", "/"):
            self.take()
            value = _combine(value, self.unary(), _ARITHMETIC[token or ""])
        return value

    def unary(self) -> Value:
        if self.peek() == "-":
            self.take()
            return _combine(self.unary(), -1.0, operator.mul)
        return self.primary()

    def primary(self) -> Value:
        token = self.take()
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return float(token)
        if self.peek() == "(":
            self.take("(")
            arguments = [self.expression()]
            while self.peek() == ",":
                self.take()
                arguments.append(self.expression())
            self.take(")")
            return self.call(token, arguments)
        # A metric query sums the raw datapoints of each period of its range (statistic Sum);
        # a period without any has no datapoint.
        first, last = self.timestamps[0], self.timestamps[-1] + self.period
        summed: Series = {}
        for t, v in self.metrics.get(token, {}).items():
            if first <= t < last:
                start = first + (t - first) // self.period * self.period
                summed[start] = summed.get(start, 0.0) + v
        return summed

    def call(self, name: str, arguments: list[Value]) -> Value:
        if name == "FILL":
            series, fill = arguments
            assert isinstance(series, dict) and not isinstance(fill, dict)
            if not series and not self.fill_empty:
                return {}
            return {t: series.get(t, fill) for t in self.timestamps}
        if name == "IF":
            condition, when_true, when_false = arguments
            assert isinstance(condition, dict)
            result: Series = {}
            for t, flag in condition.items():
                chosen = when_true if flag else when_false
                if isinstance(chosen, dict):
                    if t in chosen:
                        result[t] = chosen[t]
                else:
                    result[t] = chosen
            return result
        dates: dict[str, Callable[[int], float]] = {
            "DAY": lambda t: float(_utc(t).isoweekday()),
            "HOUR": lambda t: float(_utc(t).hour),
            "MINUTE": lambda t: float(_utc(t).minute),
        }
        if name in dates:
            (series,) = arguments
            if not isinstance(series, dict):
                raise TypeError(f"{name} takes a time series")
            periods = series if self.sparse_dates else self.timestamps
            return {t: dates[name](t) for t in periods}
        raise NotImplementedError(f"metric math function {name} is not modelled here")


def evaluate(
    expression: str,
    metrics: Mapping[str, Series],
    timestamps: list[int],
    period: int,
    *,
    fill_empty: bool = False,
    sparse_dates: bool = False,
) -> Series:
    """The time series ``expression`` gives over ``timestamps`` (period starts, ``period`` seconds each).

    ``metrics``: each metric's raw datapoints (epoch seconds -> value), summed per period.
    """
    parser = _Parser(_tokens(expression), metrics, timestamps, period, fill_empty, sparse_dates)
    value = parser.expression()
    if parser.peek() is not None:
        raise SyntaxError(f"unexpected {parser.peek()!r}")
    if not isinstance(value, dict):
        return dict.fromkeys(timestamps, value)
    return value


_THRESHOLD: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class Alarm:
    """An alarm's evaluation settings, as MetricAlarm inputs give them."""

    expression: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "notBreaching"

    def in_alarm(self, metrics: Mapping[str, Series], now: int, **reading: bool) -> bool:
        """Whether an evaluation at ``now`` finds enough breaching datapoints.

        CloudWatch evaluates an alarm every minute, over periods ending at the evaluation, not at
        period boundaries: at 12:16 a 5-minute alarm's datapoints start at 12:01, 12:06, 12:11
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html), so
        ``now`` may be any minute.

        ``reading``: ``fill_empty`` / ``sparse_dates`` of :func:`evaluate`.
        """
        starts = [now - self.period * n for n in range(self.evaluation_periods, 0, -1)]
        values = evaluate(self.expression, metrics, starts, self.period, **reading)
        missing_breaches = self.treat_missing_data == "breaching"
        breaching = sum(
            1
            for t in starts
            if (_THRESHOLD[self.comparison](values[t], self.threshold) if t in values else missing_breaches)
        )
        return breaching >= self.datapoints_to_alarm
