"""Read ``/metrics`` the way Prometheus does, and compare two scrapes per HTTP method.

Why deltas: a runtime's counters start wherever earlier calls (the readiness probe, other
cases) left them, so the suite scrapes, makes known calls, scrapes again and checks that each
series moved by exactly what those calls should add.  Parsing uses prometheus_client's own
parser, so "parses" means what it means for a Prometheus server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

METHOD_LABEL = "method"


class ExpositionError(ValueError):
    """The text is not valid Prometheus exposition format."""


@dataclass
class Scrape:
    """One parsed ``/metrics`` answer: family types and sample values by (name, method)."""

    types: Dict[str, str] = field(default_factory=dict)
    """Family name -> type (``counter``, ``histogram``...), also under the sample names."""
    values: Dict[Tuple[str, str], float] = field(default_factory=dict)
    """(sample name, upper-cased method label or '') -> value, summed over other labels."""
    labels: Dict[str, List[str]] = field(default_factory=dict)
    """Sample name -> label names it carries (to tell 'no method label' from 'no sample')."""
    methods: Dict[str, Dict[str, str]] = field(default_factory=dict)
    """Sample name -> {upper-cased method label value: the value as written}."""

    def has(self, sample: str) -> bool:
        return any(name == sample for name, _ in self.values)

    def value(self, sample: str, method: str) -> float:
        """The value of ``sample`` for ``method``; 0 when the series does not exist yet."""
        return self.values.get((sample, method.upper()), 0.0)

    def kind(self, name: str) -> str:
        return self.types.get(name, "")


def parse(text: str) -> Scrape:
    """Parse exposition text; :class:`ExpositionError` says what is wrong with it."""
    from prometheus_client.parser import text_string_to_metric_families

    scrape = Scrape()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as exc:  # noqa: BLE001 - the parser raises ValueError and others
        raise ExpositionError(f"{type(exc).__name__}: {exc}") from None
    for family in families:
        scrape.types[family.name] = family.type
        for sample in family.samples:
            scrape.types.setdefault(sample.name, family.type)
            labels = dict(sample.labels)
            scrape.labels.setdefault(sample.name, sorted(labels))
            method = _method(labels)
            raw = next((str(v) for k, v in labels.items() if k.lower() == METHOD_LABEL), "")
            if raw:
                scrape.methods.setdefault(sample.name, {})[method] = raw
            if sample.name.endswith("_bucket"):
                # Buckets differ by "le" only; keep +Inf, which equals the count.
                if labels.get("le") not in ("+Inf", "Inf", "inf"):
                    continue
            key = (sample.name, method)
            scrape.values[key] = scrape.values.get(key, 0.0) + float(sample.value)
    return scrape


def _method(labels: Mapping[str, str]) -> str:
    for name, value in labels.items():
        if name.lower() == METHOD_LABEL:
            return str(value).upper()
    return ""


@dataclass
class DeltaCheck:
    """The outcome of comparing one sample's deltas with what was expected."""

    sample: str
    expected: Dict[str, float]
    got: Dict[str, float]

    @property
    def ok(self) -> bool:
        return all(abs(self.got.get(m, 0.0) - v) < 1e-9 for m, v in self.expected.items())

    def describe(self) -> str:
        return ", ".join(f"{m}: {_num(self.got.get(m, 0.0))}" for m in self.expected)

    def describe_expected(self) -> str:
        return ", ".join(f"{m}: +{_num(v)}" for m, v in self.expected.items())


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def deltas(before: Scrape, after: Scrape, sample: str,
           methods: Iterable[str]) -> Dict[str, float]:
    """How much ``sample`` grew per method between two scrapes."""
    return {m.upper(): after.value(sample, m) - before.value(sample, m) for m in methods}


def check_deltas(before: Scrape, after: Scrape, sample: str,
                 expected: Mapping[str, float]) -> DeltaCheck:
    """Compare the growth of ``sample`` per method with ``expected`` (method -> amount)."""
    wanted = {m.upper(): float(v) for m, v in expected.items()}
    return DeltaCheck(sample, wanted, deltas(before, after, sample, wanted))


def seen_methods(before: Scrape, after: Scrape, sample: str) -> str:
    """Every method label value of ``sample`` after the calls, with its growth:
    ``probe-GET: +3, probe-POST: +2`` (an image may label calls otherwise than by method)."""
    values = after.methods.get(sample, {})
    if not values:
        return "none"
    return ", ".join(f"{raw}: +{_num(after.value(sample, key) - before.value(sample, key))}"
                     for key, raw in sorted(values.items()))


def missing_method_label(scrape: Scrape, sample: str) -> Optional[str]:
    """A sentence when ``sample`` exists but has no ``method`` label, else None."""
    names = scrape.labels.get(sample)
    if names is None or any(n.lower() == METHOD_LABEL for n in names):
        return None
    return (f"{sample} has labels {names or '(none)'} but no '{METHOD_LABEL}' label; the "
            "contract counts per HTTP method")


def similar_names(scrape: Scrape, sample: str, limit: int = 3,
                  exclude: Iterable[str] = ()) -> List[str]:
    """Sample names that look like ``sample`` (to say 'did you mean' in a failure).

    Names with the same suffix (``_total``, ``_count``) come first; ``exclude`` leaves out
    names that are right for another purpose (the other contract metrics).
    """
    import difflib

    skip = set(exclude)
    names = sorted(n for n in {name for name, _ in scrape.values} - skip - {sample}
                   if not n.endswith("_created"))
    suffix = "_" + sample.rsplit("_", 1)[-1] if "_" in sample else ""
    same = [n for n in names if suffix and n.endswith(suffix)]
    close = difflib.get_close_matches(sample, same, n=limit, cutoff=0.5)
    close += [n for n in difflib.get_close_matches(sample, names, n=limit, cutoff=0.6)
              if n not in close]
    return close[:limit]


__all__ = ["DeltaCheck", "ExpositionError", "Scrape", "check_deltas", "deltas",
           "missing_method_label", "parse", "seen_methods", "similar_names"]
