package io.kubeless.runtime;

import java.nio.file.Path;
import java.util.Map;

/** The Kubeless environment variables the server and the workers read. */
public final class Config {
    public final String module;
    public final String function;
    public final Path volume;
    public final double timeoutSeconds;
    public final String timeoutText;
    public final int port;
    public final String functionName;
    public final String runtime;
    public final String memoryLimit;
    public final long bodyLimit;
    public final int workersMin;
    public final int workersMax;
    public final int workerIdleSeconds;
    public final int graceSeconds;
    public final String workerOptions;

    public Config(Map<String, String> env) {
        module = env.getOrDefault("MOD_NAME", "");
        function = env.getOrDefault("FUNC_HANDLER", "");
        volume = Path.of(env.getOrDefault("KUBELESS_INSTALL_VOLUME", "/kubeless"));
        timeoutText = env.getOrDefault("FUNC_TIMEOUT", "180");
        timeoutSeconds = positive("FUNC_TIMEOUT", timeoutText);
        port = (int) positive("FUNC_PORT", env.getOrDefault("FUNC_PORT", "8080"));
        functionName = function; // as Kubeless's Java runtime: the handler, not the deployment
        runtime = env.getOrDefault("FUNC_RUNTIME", "");
        memoryLimit = env.getOrDefault("FUNC_MEMORY_LIMIT", "");
        bodyLimit = (long) (positive("REQ_MB_LIMIT", env.getOrDefault("REQ_MB_LIMIT", "1"))
                * 1024 * 1024);
        workersMin = (int) positive("KUBELESS_WORKERS_MIN",
                                    env.getOrDefault("KUBELESS_WORKERS_MIN", "2"));
        int fit = workersForMemory(Runtime.getRuntime().maxMemory() > 0 ? containerMemory() : 0);
        workersMax = Math.max(workersMin, (int) positive("KUBELESS_WORKERS_MAX",
                env.getOrDefault("KUBELESS_WORKERS_MAX", String.valueOf(fit))));
        workerIdleSeconds = (int) positive("KUBELESS_WORKER_IDLE",
                                           env.getOrDefault("KUBELESS_WORKER_IDLE", "60"));
        graceSeconds = (int) positive("KUBELESS_GRACE_PERIOD",
                                      env.getOrDefault("KUBELESS_GRACE_PERIOD", "10"));
        workerOptions = env.getOrDefault("KUBELESS_WORKER_JAVA_OPTS", "");
    }

    public Path functionDir() {
        return volume.resolve("function");
    }

    public Path classesDir() {
        return functionDir().resolve("target/classes");
    }

    public Path libDir() {
        return functionDir().resolve("target/lib");
    }

    public String sourceFile() {
        return volume.resolve(module + ".java").toString();
    }

    private static double positive(String name, String value) {
        try {
            double number = Double.parseDouble(value.trim());
            if (number > 0) {
                return number;
            }
        } catch (NumberFormatException ex) {
            // reported below
        }
        throw new IllegalArgumentException(name + "=" + value + " must be a positive number");
    }

    /** The container's memory (the JVM sees the cgroup limit), in bytes. */
    static long containerMemory() {
        java.lang.management.OperatingSystemMXBean os =
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean) {
            return ((com.sun.management.OperatingSystemMXBean) os).getTotalMemorySize();
        }
        return 0;
    }

    /**
     * How many worker JVMs fit: about 40 MiB each (measured idle RSS plus room for a call)
     * after 60 MiB for the server; at least 2, at most 8.
     */
    static int workersForMemory(long bytes) {
        if (bytes <= 0) {
            return 4;
        }
        long mib = bytes / (1024 * 1024);
        return (int) Math.max(2, Math.min(8, (mib - 60) / 40));
    }
}
