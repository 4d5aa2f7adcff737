"""Numba kernels: time-sorted readings of many series -> 15-minute bucket sums in fixed point.

Every kernel works on a batch of series laid out like a CSR matrix: ``offsets[s]:offsets[s+1]``
are the readings of series ``s`` in time order, and ``bucket_off[s]:bucket_off[s+1]`` are its
output buckets, the first starting at ``bucket_lo[s]`` (ms since the epoch, a multiple of
:data:`BUCKET_MS`). One pass per series computes the interval deltas, books them into buckets and
counts readings, so the work is linear in readings and allocation-free.

Why integers: a bucket's activity is a sum of interval shares, and a sum of int64 does not depend
on the order of its terms, so the same readings give the same rollups whatever order they arrived
in or how they were batched (domain.md §1). Floats appear only inside one interval's computation
(CEMS standard flow), which is a pure function of that interval's readings, then rounded once.

Why pairwise: an interval's delta depends only on its two consecutive usable readings and the
meter's registry values, so a window of buckets recomputed from the readings around it (one
usable reading either side) equals a recomputation of the whole history. Flagged intervals (spike,
negative delta) book nothing and the next interval starts from the flagged reading: a meter can
not "un-consume", and nothing is ever booked twice.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BUCKET_MS = 900_000
GOOD, ESTIMATED, BAD = 0, 1, 2
# Event kinds: the codes stored in quality_events.kind through EVENT_NAMES.
EV_RESET, EV_SPIKE, EV_NEGATIVE, EV_OFFLINE, EV_STUCK, EV_CLOCK_SKEW = 1, 2, 3, 4, 5, 6  # 5: _stuck
EVENT_NAMES = {
    EV_RESET: "reset",
    EV_SPIKE: "spike",
    EV_NEGATIVE: "negative_delta",
    EV_OFFLINE: "offline",
    EV_STUCK: "stuck",
    EV_CLOCK_SKEW: "clock_skew",
}
_SPLIT_MS = 1 << 31  # below: proportions in ms; above: in seconds (keeps r * e < 2**63)


@njit(cache=True, inline="always", error_model="numpy")
def _spread(t0, t1, b0, b1, amount, estimated, lo, nb, base, activity, covered, est_ms):  # type: ignore[no-untyped-def]
    """Book ``amount`` over [t0, t1) in proportion to time (``b0``, ``b1``: their buckets).

    The common case, an interval inside one bucket, is inline; the rest is out of line so the hot
    loop stays small (``rollup_cumulative`` spells the same test out in its loop: measurably
    faster than even an inlined call).
    """
    last = b1 - 1 if t1 == b1 * BUCKET_MS else b1  # the bucket holding t1 - 1
    if b0 == last:
        k = b0 - lo
        if 0 <= k < nb:
            activity[base + k] += amount
            covered[base + k] += t1 - t0
            if estimated:
                est_ms[base + k] += t1 - t0
    else:
        _spread_across(t0, t1, b0, last, amount, estimated, lo, nb, base, activity, covered, est_ms)


@njit(cache=True, error_model="numpy")
def _spread_across(t0, t1, b, last, amount, estimated, lo, nb, base, activity, covered, est_ms):  # type: ignore[no-untyped-def]
    """An interval over several buckets, shared exactly in proportion to time.

    The share up to a bucket boundary e is floor(amount * (e - t0) / (t1 - t0)), computed as
    q*e' + r*e'//dt' (q, r = divmod(amount, dt')) so it never overflows; each bucket gets the
    difference of consecutive cumulative shares, so the shares sum to ``amount`` exactly and the
    rounding remainder always lands in the same place (the later bucket).
    """
    neg = amount < 0
    a = -amount if neg else amount
    unit = 1 if t1 - t0 < _SPLIT_MS else 1000
    dt = (t1 - t0) // unit
    q = a // dt
    r = a % dt
    done = 0
    while b <= last:
        end = (b + 1) * BUCKET_MS
        if end >= t1:
            cum = a
        else:
            e = (end - t0) // unit
            cum = q * e + (r * e) // dt
        k = b - lo
        if 0 <= k < nb:
            share = cum - done
            activity[base + k] += -share if neg else share
            span = min(end, t1) - max(b * BUCKET_MS, t0)
            covered[base + k] += span
            if estimated:
                est_ms[base + k] += span
        done = cum
        b += 1


@njit(cache=True, inline="always", error_model="numpy")
def _count(b, quality, lo, nb, base, counts):  # type: ignore[no-untyped-def]
    k = b - lo
    if 0 <= k < nb:
        counts[(base + k) * 3 + quality] += 1


@njit(cache=True, inline="always", error_model="numpy")
def _event(n, s, t, kind, amount, ev_series, ev_time, ev_kind, ev_amount):  # type: ignore[no-untyped-def]
    if n < ev_series.shape[0]:
        ev_series[n] = s
        ev_time[n] = t
        ev_kind[n] = kind
        ev_amount[n] = amount
    return n + 1


@njit(cache=True, inline="always", error_model="numpy")
def classify(v0, v1, dt_ms, register_max, cap_per_h):  # type: ignore[no-untyped-def]
    """(register delta, event kind or 0) for one interval; see domain.md §2.

    Rise: the difference, unless above the meter's physical maximum for the elapsed time (spike).
    Drop from the top fifth of a register with a known maximum: a rollover (the register reads
    ``register_max`` as 0, so delta = v1 + max - v0), unless that too is implausible. Other drops:
    a reset or replacement if the new value is one the new register could have counted in the
    interval (the value itself is the consumption since the reset), else a negative delta.
    """
    # x > cap_per_h * seconds / 3600, compared without a division (same result as floor)
    cap = cap_per_h * (dt_ms // 1000)
    if v1 >= v0:
        d = v1 - v0
        return (0, EV_SPIKE) if d * 3600 > cap else (d, 0)
    if register_max > 0 and v0 > register_max - register_max // 5:
        d = v1 + register_max - v0
        return (0, EV_SPIKE) if d * 3600 > cap else (d, 0)
    if v1 * 3600 <= cap:
        return (v1, EV_RESET)
    return (0, EV_NEGATIVE)


@njit(cache=True, error_model="numpy")
def rollup_cumulative(  # type: ignore[no-untyped-def]
    offsets, t_ms, value, quality, recv_ms,
    mult_num, mult_den, register_max, cap_per_h,
    bucket_lo, bucket_off, offline_ms, skew_ms,
    activity, covered, est_ms, counts,
    ev_series, ev_time, ev_kind, ev_amount,
):  # fmt: skip
    """Cumulative registers (fixed-point values) -> booked activity per bucket, and events.

    An interval longer than ``offline_ms`` (a gap: the meter was silent) is booked in full, spread
    over the gap in proportion to time, and its whole time counts as estimated: the register
    delta is measured energy, but how it was spread over the silent hours is not.

    (A stuck counter is not judged here: it depends on a run of readings of unbounded length, so
    it is derived from the buckets instead, see ``analytics._stuck``.)

    Returns the number of events (arrays sized too small are filled up to their length; the
    caller retries with bigger ones if the count exceeds it).
    """
    n_ev = 0
    for s in range(offsets.shape[0] - 1):
        lo = bucket_lo[s] // BUCKET_MS
        base = bucket_off[s]
        nb = bucket_off[s + 1] - base
        prev = -1
        b0 = 0
        for i in range(offsets[s], offsets[s + 1]):
            t1 = t_ms[i]
            q1 = quality[i]
            b1 = t1 // BUCKET_MS
            _count(b1, q1, lo, nb, base, counts)
            if recv_ms[i] >= 0 and t1 - recv_ms[i] > skew_ms:
                n_ev = _event(n_ev, s, t1, EV_CLOCK_SKEW, t1 - recv_ms[i],
                              ev_series, ev_time, ev_kind, ev_amount)  # fmt: skip
            if q1 == BAD:
                continue
            if prev < 0:
                prev, b0 = i, b1
                continue
            t0, v0, v1 = t_ms[prev], value[prev], value[i]
            d, kind = classify(v0, v1, t1 - t0, register_max[s], cap_per_h[s])
            if kind != 0:
                n_ev = _event(n_ev, s, t1, kind, v1 if kind == EV_RESET else v1 - v0,
                              ev_series, ev_time, ev_kind, ev_amount)  # fmt: skip
            gap = t1 - t0 > offline_ms
            if gap:
                n_ev = _event(n_ev, s, t1, EV_OFFLINE, t1 - t0,
                              ev_series, ev_time, ev_kind, ev_amount)  # fmt: skip
            booked = d * mult_num[s]
            if mult_den[s] != 1:  # fractional ratios only: a real division is slow
                booked //= mult_den[s]
            # across a gap the delta is measured but its spreading over the buckets is not
            est = gap or quality[prev] == ESTIMATED or q1 == ESTIMATED
            last = b1 - 1 if t1 == b1 * BUCKET_MS else b1  # = _spread, by hand for speed
            if b0 == last:
                k = b0 - lo
                if 0 <= k < nb:
                    activity[base + k] += booked
                    covered[base + k] += t1 - t0
                    if est:
                        est_ms[base + k] += t1 - t0
            else:
                _spread_across(
                    t0, t1, b0, last, booked, est, lo, nb, base, activity, covered, est_ms
                )
            prev, b0 = i, b1
    return n_ev


@njit(cache=True, error_model="numpy")
def rollup_power(  # type: ignore[no-untyped-def]
    offsets, t_ms, watts, quality, bucket_lo, bucket_off, max_gap_ms,
    activity, covered, est_ms, counts,
):  # fmt: skip
    """Instantaneous power (W, integer) -> energy in 1e-4 kWh by the trapezoid rule.

    Intervals longer than ``max_gap_ms`` are not integrated: nobody knows the power in a hole.
    (p0 + p1)/2 [W] x dt [ms] / 3.6e6 [ms/h] / 1000 [W/kW] x 1e4 = (p0 + p1) x dt // 720000.
    """
    for s in range(offsets.shape[0] - 1):
        lo = bucket_lo[s] // BUCKET_MS
        base = bucket_off[s]
        nb = bucket_off[s + 1] - base
        prev = -1
        for i in range(offsets[s], offsets[s + 1]):
            b1 = t_ms[i] // BUCKET_MS
            _count(b1, quality[i], lo, nb, base, counts)
            if quality[i] == BAD:
                continue
            if prev >= 0 and t_ms[i] - t_ms[prev] <= max_gap_ms:
                t0, t1 = t_ms[prev], t_ms[i]
                energy = (watts[prev] + watts[i]) * (t1 - t0) // 720_000
                est = quality[prev] == ESTIMATED or quality[i] == ESTIMATED
                b0 = t0 // BUCKET_MS
                _spread(t0, t1, b0, b1, energy, est, lo, nb, base, activity, covered, est_ms)
            prev = i
    return 0


@njit(cache=True, error_model="numpy")
def rollup_cems(  # type: ignore[no-untyped-def]
    offsets, t_ms, conc, flow, temp, pressure, moisture, usable, atmospheric_pa,
    bucket_lo, bucket_off, max_gap_ms, activity, covered, est_ms,
):  # fmt: skip
    """CEMS samples -> CO2 mass in grams (1e-6 t) per bucket, HJ 75-2017.

    Qsn = Qs x 273/(273+ts) x (Ba+Ps)/101325 x (1-Xsw); mass rate [g/h] = C [mg/m3] x Qsn x 1e-3.
    Each interval's mass is the trapezoid of the two rates, rounded to whole grams once (a pure
    function of the two samples), then booked as an integer like any other activity.
    """
    for s in range(offsets.shape[0] - 1):
        lo = bucket_lo[s] // BUCKET_MS
        base = bucket_off[s]
        nb = bucket_off[s + 1] - base
        prev = -1
        rate0 = 0.0
        for i in range(offsets[s], offsets[s + 1]):
            if not usable[i]:
                continue
            qsn = (
                flow[i]
                * 273.0
                / (273.0 + temp[i])
                * (atmospheric_pa + pressure[i])
                / 101325.0
                * (1.0 - moisture[i] / 100.0)
            )
            rate1 = conc[i] * qsn * 1e-3
            if prev >= 0 and t_ms[i] - t_ms[prev] <= max_gap_ms:
                t0, t1 = t_ms[prev], t_ms[i]
                grams = np.int64(np.rint((rate0 + rate1) * 0.5 * (t1 - t0) / 3_600_000.0))
                b0, b1 = t0 // BUCKET_MS, t1 // BUCKET_MS
                _spread(t0, t1, b0, b1, grams, False, lo, nb, base, activity, covered, est_ms)
            prev, rate0 = i, rate1
    return 0
