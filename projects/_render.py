"""Text for people: a project, its history and its reductions (``show``), and the whole
derivation (``explain``). Figures are rounded here, once."""

from __future__ import annotations

from collections.abc import Sequence

from projects._model import Project, Transition
from projects._result import Reductions, dec
from projects.disclosure import Disclosure


def project_text(p: Project, history: Sequence[Transition]) -> list[str]:
    lines = [
        f"{p.id}  {p.title}",
        f"  owner {p.owner_code}, {p.location}; {p.purpose} / {p.area} / {p.subcategory}",
        f"  stage {p.stage}; method {p.method}; investment {p.total_investment_yuan} yuan;"
        f" expected {p.expected_annual_tco2} tCO2/a; in operation from {p.start_of_operation}",
        "  meters: " + ", ".join(f"{m} ({r})" for m, r in sorted(p.meters.items())),
    ]
    for t in history:
        verdict = "" if t.passed else " (criteria not met)"
        lines.append(
            f"  {t.at:%Y-%m-%d %H:%M} {t.action} by {t.by_role} {t.by_name}:"
            f" {t.from_stage or '-'} -> {t.to_stage}{verdict}"
        )
        for c in t.criteria or []:
            lines.append(f"      {'ok ' if c['passed'] else 'NO '} {c['rule']}: {c['detail']}")
    return lines


def reductions_text(r: Reductions, *, explain: bool = False) -> list[str]:
    lines = [f"reductions {r.period} (as of {r.as_of:%Y-%m-%d %H:%M}), method {r.method}"]
    if r.baseline is not None:
        b = r.baseline.as_json()
        lines.append(
            f"  baseline {b['months'][0]}..{b['months'][-1]}: {b['model']};"
            f" R² {b['r2']}, CV(RMSE) {b['cv_rmse']}, NMBE {b['nmbe']}:"
            f" {'accepted' if b['accepted'] else 'REFUSED'}"
        )
        lines += [f"    fails: {f}" for f in b["failures"]]
        if explain:
            lines.append(f"    thresholds: {b['thresholds']}")
            for month, energy, x in zip(
                b["months"], b["energy"], b["drivers"] or [None] * len(b["months"]), strict=True
            ):
                lines.append(
                    f"    {month}: {energy} {b['unit']}"
                    + ("" if x is None else f", {b['driver']} {x}")
                )
    for m in r.months:
        value = "—" if m.reduction is None else f"{dec(m.reduction, 3)} tCO2"
        flags = f"  [{', '.join(m.flags)}]" if m.flags else ""
        lines.append(f"  {m.month:%Y-%m}  {value:>16}  coverage {dec(m.coverage, 3)}{flags}")
        if explain:
            lines.append(f"      {m.formula}")
            lines += [f"      {ln.name}: {dec(ln.value, 4)} {ln.unit} {ln.note}" for ln in m.lines]
            lines += [f"      factor {f.ref} = {f.value} {f.unit} ({f.source}; {f.document})"
                      for f in m.factors]  # fmt: skip
    complete = "" if r.complete else " (some months could not be computed)"
    lines.append(f"  total {dec(r.total, 3)} tCO2, expected {dec(r.expected, 3)} tCO2{complete}")
    return lines


def disclosure_text(d: Disclosure) -> list[str]:
    """The per-loan table, aligned, with the total and what was withheld."""
    lines = [
        f"carbon emission reduction facility: bank {d.bank_id}, {d.year}"
        f" (as of {d.as_of:%Y-%m-%d %H:%M})",
        f"  {'loan':<20} {'project':<16} {'loan yuan':>12} {'investment':>12} {'share':>8}"
        f" {'project t':>11} {'loan t':>10}  flags",
    ]
    for line in d.lines:
        row = line.as_row(d.year)
        done = "" if line.complete else "to date "
        lines.append(
            f"  {row['loan_id']:<20} {row['project_id']:<16} {row['loan_amount_yuan']:>12}"
            f" {row['total_investment_yuan']:>12} {dec(line.share, 4):>8}"
            f" {dec(line.project_reduction, 3):>11} {dec(line.attributed, 3):>10}"
            f"  {done}{row['flags']}"
        )
    lines.append(f"  total attributed {dec(d.total, 3)} tCO2; {d.withheld} loans withheld"
                 " (owner has not consented)")  # fmt: skip
    if d.unknown_projects:
        lines.append(f"  loans naming unknown projects: {', '.join(d.unknown_projects)}")
    return lines
