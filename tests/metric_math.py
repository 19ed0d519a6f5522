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
from dataclasses import dataclass, field

Series = dict[int, float]  # epoch seconds (a raw datapoint's time, or a period's start) -> value
Value = Series | float

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[-+*/<>(),]))")
# Comparisons give 1 or 0, as metric math's comparison operators do.
_COMPARE: dict[str, Callable[[float, float], float]] = {
    "<": lambda a, b: 1.0 if a < b else 0.0,
    ">": lambda a, b: 1.0 if a > b else 0.0,
    "<=": lambda a, b: 1.0 if a <= b else 0.0,
    ">=": lambda a, b: 1.0 if a >= b else 0.0,
    "==": lambda a, b: 1.0 if a == b else 0.0,
    "!=": lambda a, b: 1.0 if a != b else 0.0,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


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
        if left.keys() == right.keys():  # the usual case (date functions give every period): no gaps to fill
            return {t: apply(v, right[t]) for t, v in left.items()}
        # A datapoint missing in one of two series counts as 0 (arithmetic and comparisons alike).
        return {t: apply(left.get(t, 0.0), right.get(t, 0.0)) for t in left.keys() | right.keys()}
    if isinstance(left, dict):
        scalar = float(right)  # type: ignore[arg-type]
        return {t: apply(v, scalar) for t, v in left.items()}
    if isinstance(right, dict):
        scalar = float(left)
        return {t: apply(scalar, v) for t, v in right.items()}
    return apply(left, right)


@dataclass
class _Range:
    """What one evaluation reads: the metrics' raw datapoints, the period starts, and the readings."""

    metrics: Mapping[str, Series]
    timestamps: list[int]  # every period start of the query range
    period: int
    fill_empty: bool
    sparse_dates: bool
    summed: dict[str, Series] = field(default_factory=dict)
    called: dict[str, Value] = field(default_factory=dict)  # each function call's value, by its text

    def metric(self, name: str) -> Series:
        """A metric query sums the raw datapoints of each period of its range (statistic Sum); a period
        without any has no datapoint. Summed once per range however often the expression names it."""
        if name not in self.summed:
            first, last = self.timestamps[0], self.timestamps[-1] + self.period
            summed: Series = {}
            for t, v in self.metrics.get(name, {}).items():
                if first <= t < last:
                    start = first + (t - first) // self.period * self.period
                    summed[start] = summed.get(start, 0.0) + v
            self.summed[name] = summed
        return self.summed[name]


Node = Callable[[_Range], Value]


def _binary(left: Node, right: Node, apply: Callable[[float, float], float]) -> Node:
    return lambda r: _combine(left(r), right(r), apply)


@dataclass
class _Parser:
    """Reads an expression once into a tree of functions of a range (an alarm evaluates it every minute)."""

    tokens: tuple[str, ...]
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.position]
        if expected is not None and token != expected:
            raise SyntaxError(f"expected {expected!r}, got {token!r}")
        self.position += 1
        return token

    def expression(self) -> Node:
        node = self.conjunction()
        while self.peek() == "OR":
            self.take()
            node = _binary(node, self.conjunction(), lambda a, b: float(bool(a) or bool(b)))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek() == "AND":
            self.take()
            node = _binary(node, self.negation(), lambda a, b: float(bool(a) and bool(b)))
        return node

    def negation(self) -> Node:
        if self.peek() == "NOT":
            self.take()
            inner = self.negation()
            return lambda r: _combine(inner(r), 0.0, lambda a, _: float(not a))
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        while (token := self.peek()) in _COMPARE:
            self.take()
            node = _binary(node, self.additive(), _COMPARE[token or ""])
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while (token := self.peek()) in ("+", "-"):
            self.take()
            node = _binary(node, self.multiplicative(), _ARITHMETIC[token or ""])
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while (token := self.peek()) in ("*", "/"):
            self.take()
            node = _binary(node, self.unary(), _ARITHMETIC[token or ""])
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return lambda r: _combine(inner(r), -1.0, operator.mul)
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.expression()
            self.take(")")
            return node
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            number = float(token)
            return lambda r: number
        if self.peek() == "(":
            start = self.position - 1
            self.take("(")
            arguments = [self.expression()]
            while self.peek() == ",":
                self.take()
                arguments.append(self.expression())
            self.take(")")
            # A call repeated in the expression (the alarms name DAY(m) and HOUR(m) many times) has one
            # value per range: computed once. Nodes never change the series they are given.
            text = " ".join(self.tokens[start : self.position])

            def call(r: _Range) -> Value:
                if text not in r.called:
                    r.called[text] = _call(token, [argument(r) for argument in arguments], r)
                return r.called[text]

            return call
        return lambda r: r.metric(token)


# In UTC, from epoch seconds (1970-01-01 was a Thursday, ISO weekday 4): what datetime's
# isoweekday(), hour and minute give, without making a datetime per datapoint.
_DATE_PARTS: dict[str, Callable[[int], float]] = {
    "DAY": lambda t: float((t // 86400 + 3) % 7 + 1),
    "HOUR": lambda t: float(t // 3600 % 24),
    "MINUTE": lambda t: float(t // 60 % 60),
}


def _call(name: str, arguments: list[Value], r: _Range) -> Value:
    if name == "FILL":
        series, fill = arguments
        assert isinstance(series, dict) and not isinstance(fill, dict)
        if not series and not r.fill_empty:
            return {}
        return {t: series.get(t, fill) for t in r.timestamps}
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
    if name in _DATE_PARTS:
        (series,) = arguments
        if not isinstance(series, dict):
            raise TypeError(f"{name} takes a time series")
        periods = series if r.sparse_dates else r.timestamps
        part = _DATE_PARTS[name]
        return {t: part(t) for t in periods}
    raise NotImplementedError(f"metric math function {name} is not modelled here")


@functools.cache
def _parsed(expression: str) -> Node:
    parser = _Parser(_tokens(expression))
    node = parser.expression()
    if parser.peek() is not None:
        raise SyntaxError(f"unexpected {parser.peek()!r}")
    return node


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
    value = _parsed(expression)(_Range(metrics, timestamps, period, fill_empty, sparse_dates))
    if not isinstance(value, dict):
        return dict.fromkeys(timestamps, value)
    return dict(sorted(value.items()))  # in time order (the nodes combine series in any order)


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
