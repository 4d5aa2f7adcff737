"""Ordinary least squares of a baseline, exactly (IPMVP option B/C routine adjustments).

energy = a + b x driver, fitted over the baseline months in closed form over Fractions (one
regressor, or none: the mean), with the statistics ASHRAE Guideline 14 judges a model by:

- R² = 1 - SSE / SST;
- CV(RMSE) = sqrt(SSE / (n - p)) / mean(y);
- NMBE = sum(y - ŷ) / ((n - p) x mean(y)) (zero for OLS with an intercept, kept as the check);

p being the number of parameters. CV(RMSE) has a square root: acceptance compares its square
with the square of the threshold, so the decision is exact; the root is taken only to show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from projects._errors import MethodError
from projects._rules import BaselineThresholds


@dataclass(frozen=True)
class Fit:
    """A baseline model and its statistics (exact)."""

    intercept: Fraction
    slope: Fraction  # 0 without a driver
    n: int
    parameters: int
    sse: Fraction
    sst: Fraction
    mean: Fraction
    residual_sum: Fraction

    @property
    def r2(self) -> Fraction | None:
        """None when the baseline does not vary (SST = 0) or there is no driver."""
        if self.parameters < 2 or self.sst == 0:
            return None
        return 1 - self.sse / self.sst

    @property
    def cv_rmse_squared(self) -> Fraction:
        if self.mean == 0:
            raise MethodError("baseline energy is zero: CV(RMSE) is undefined")
        return self.sse / (self.n - self.parameters) / (self.mean * self.mean)

    @property
    def nmbe(self) -> Fraction:
        if self.mean == 0:
            raise MethodError("baseline energy is zero: NMBE is undefined")
        return self.residual_sum / ((self.n - self.parameters) * self.mean)

    def cv_rmse(self, digits: int = 6) -> Decimal:
        """CV(RMSE) for people, rounded to ``digits`` decimals."""
        q = self.cv_rmse_squared
        with localcontext() as ctx:
            ctx.prec = 40
            root = (Decimal(q.numerator) / Decimal(q.denominator)).sqrt()
        return round(root, digits)

    def predict(self, driver: Fraction, share: Fraction = Fraction(1)) -> Fraction:
        """The adjusted baseline of a month with ``driver``; ``share`` of the month elapsed
        scales the intercept (the base load) of a live month."""
        return self.intercept * share + self.slope * driver


def fit(xs: Sequence[Fraction] | None, ys: Sequence[Fraction]) -> Fit:
    """OLS of ``ys`` on ``xs`` (None: no driver, the model is the mean); MethodError when
    the system is degenerate (too few points, a constant driver)."""
    n = len(ys)
    parameters = 1 if xs is None else 2
    if n <= parameters:
        raise MethodError(f"{n} baseline months cannot fit {parameters} parameters")
    sy = sum(ys, Fraction(0))
    mean = sy / n
    if xs is None:
        a, b = mean, Fraction(0)
        predicted = [a] * n
    else:
        if len(xs) != n:
            raise MethodError("driver and energy months differ in number")
        sx = sum(xs, Fraction(0))
        sxx = sum((x * x for x in xs), Fraction(0))
        sxy = sum((x * y for x, y in zip(xs, ys, strict=True)), Fraction(0))
        denominator = n * sxx - sx * sx
        if denominator == 0:
            raise MethodError("the driver does not vary over the baseline: no slope to fit")
        b = (n * sxy - sx * sy) / denominator
        a = (sy - b * sx) / n
        predicted = [a + b * x for x in xs]
    residuals = [y - p for y, p in zip(ys, predicted, strict=True)]
    return Fit(
        intercept=a,
        slope=b,
        n=n,
        parameters=parameters,
        sse=sum((r * r for r in residuals), Fraction(0)),
        sst=sum(((y - mean) ** 2 for y in ys), Fraction(0)),
        mean=mean,
        residual_sum=sum(residuals, Fraction(0)),
    )


@dataclass(frozen=True)
class Acceptance:
    """Whether a fit passes the method's thresholds, and each failed test in words."""

    accepted: bool
    failures: tuple[str, ...]


def judge(found: Fit, limits: BaselineThresholds) -> Acceptance:
    """The ASHRAE Guideline 14 tests (thresholds from ``methods.toml``), exact."""
    failures = []
    if found.n < limits.min_months:
        failures.append(f"{found.n} baseline months < {limits.min_months}")
    cv_max = Fraction(limits.cv_rmse_max)
    if found.cv_rmse_squared > cv_max * cv_max:
        failures.append(f"CV(RMSE) {found.cv_rmse(4)} > {limits.cv_rmse_max}")
    if abs(found.nmbe) > Fraction(limits.nmbe_max):
        failures.append(f"NMBE {round(float(found.nmbe), 4)} outside ±{limits.nmbe_max}")
    r2 = found.r2
    if found.parameters >= 2 and (r2 is None or r2 < Fraction(limits.r2_min)):
        shown = "undefined" if r2 is None else f"{round(float(r2), 4)}"
        failures.append(f"R² {shown} < {limits.r2_min}")
    return Acceptance(not failures, tuple(failures))
