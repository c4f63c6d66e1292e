from prometheus_client.parser import text_string_to_metric_families

from kubeless_runtime.runtime.metrics import FunctionMetrics


def samples(metrics):
    text = metrics.exposition()[0].decode()
    return {(s.name, s.labels.get("method"), s.labels.get("le")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_record_moves_the_kubeless_series_per_method():
    metrics = FunctionMetrics()
    metrics.record("GET", 0.002, failed=False)
    metrics.record("GET", 0.2, failed=True)
    metrics.record("POST", 0.01, failed=False)
    values = samples(metrics)
    assert values[("function_calls_total", "GET", None)] == 2
    assert values[("function_failures_total", "GET", None)] == 1
    assert values[("function_calls_total", "POST", None)] == 1
    assert ("function_failures_total", "POST", None) in values
    assert values[("function_duration_seconds_count", "GET", None)] == 2
    assert values[("function_duration_seconds_bucket", "GET", "0.005")] == 1


def test_two_instances_do_not_share_series():
    first, second = FunctionMetrics(), FunctionMetrics()
    first.record("GET", 0.1, failed=False)
    assert ("function_calls_total", "GET", None) not in samples(second)
