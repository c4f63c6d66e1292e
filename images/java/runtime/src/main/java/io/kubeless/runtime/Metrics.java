package io.kubeless.runtime;

import java.util.Map;
import java.util.TreeMap;

/**
 * The three metrics every Kubeless runtime exposes, labelled by HTTP method, in Prometheus
 * text format: function_calls_total, function_failures_total, function_duration_seconds.
 */
public final class Metrics {
    static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1,
                                     2.5, 5, 7.5, 10};

    private static final class Series {
        long calls;
        long failures;
        double sum;
        final long[] buckets = new long[BUCKETS.length];
    }

    private final Map<String, Series> byMethod = new TreeMap<>();

    public synchronized void observe(String method, double seconds, boolean failed) {
        Series series = byMethod.computeIfAbsent(method, m -> new Series());
        series.calls++;
        if (failed) {
            series.failures++;
        }
        series.sum += seconds;
        for (int i = 0; i < BUCKETS.length; i++) {
            if (seconds <= BUCKETS[i]) {
                series.buckets[i]++;
            }
        }
    }

    public synchronized String exposition() {
        StringBuilder out = new StringBuilder();
        out.append("# HELP function_calls_total Number of calls to user function\n");
        out.append("# TYPE function_calls_total counter\n");
        byMethod.forEach((m, s) -> sample(out, "function_calls_total", m, null, s.calls));
        out.append("# HELP function_failures_total Number of exceptions in user function\n");
        out.append("# TYPE function_failures_total counter\n");
        byMethod.forEach((m, s) -> sample(out, "function_failures_total", m, null, s.failures));
        out.append("# HELP function_duration_seconds Duration of user function in seconds\n");
        out.append("# TYPE function_duration_seconds histogram\n");
        byMethod.forEach((m, s) -> {
            for (int i = 0; i < BUCKETS.length; i++) {
                sample(out, "function_duration_seconds_bucket", m, format(BUCKETS[i]),
                       s.buckets[i]);
            }
            sample(out, "function_duration_seconds_bucket", m, "+Inf", s.calls);
            sample(out, "function_duration_seconds_count", m, null, s.calls);
            out.append("function_duration_seconds_sum{method=\"").append(m).append("\"} ")
               .append(s.sum).append('\n');
        });
        return out.toString();
    }

    private static String format(double bound) {
        return bound == Math.rint(bound) ? String.valueOf((long) bound) + ".0"
                                         : String.valueOf(bound);
    }

    private static void sample(StringBuilder out, String name, String method, String le,
                               long value) {
        out.append(name).append("{method=\"").append(method).append('"');
        if (le != null) {
            out.append(",le=\"").append(le).append('"');
        }
        out.append("} ").append(value).append('\n');
    }
}
