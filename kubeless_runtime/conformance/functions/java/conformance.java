package io.kubeless;

import io.kubeless.Context;
import io.kubeless.Event;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The conformance suite's function for Java runtimes (Kubeless style: a public class in package
 * io.kubeless, handler conformance.handler; lower case because every language's conformance
 * function is the module "conformance", and a Java class is named as its file). It answers the same requests as the Python one:
 * no body -> GREETING; a raw body -> the same bytes; a JSON value without a "conformance" key ->
 * {echo, type}; {"conformance": COMMAND, ...} -> runs COMMAND (where, event, context, raise,
 * sleep, late, deps). The "deps" command uses joda-time, which the pom.xml brings in.
 */
public class conformance {
    static final String GREETING = "kubeless-conformance: hello from the function";

    public Object handler(Event event, Context context) throws Exception {
        Object data = event.isJson() ? event.getJson() : null;
        if (data instanceof Map && ((Map<?, ?>) data).containsKey("conformance")) {
            return command((Map<?, ?>) data, event, context);
        }
        if (!event.isJson()) {
            byte[] body = event.getBody();
            return body.length == 0 ? GREETING : body;
        }
        if (data == null || (data instanceof Map && ((Map<?, ?>) data).isEmpty())) {
            return GREETING;
        }
        return Map.of("echo", data, "type", typeName(data));
    }

    static String typeName(Object value) {
        if (value == null) return "null";
        if (value instanceof Map) return "object";
        if (value instanceof List) return "array";
        if (value instanceof String) return "string";
        if (value instanceof Number) return "number";
        if (value instanceof Boolean) return "boolean";
        return "bytes";
    }

    private Object command(Map<?, ?> data, Event event, Context context) throws Exception {
        String name = String.valueOf(data.get("conformance"));
        switch (name) {
            case "where": {
                String volume = System.getenv().getOrDefault("KUBELESS_INSTALL_VOLUME", "");
                Path file = Path.of(volume, getClass().getSimpleName() + ".java");
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("file", Files.exists(file) ? file.toString() : null);
                out.put("module", getClass().getSimpleName());
                out.put("install_volume", volume);
                return out;
            }
            case "event": {
                Map<String, Object> fields = new LinkedHashMap<>();
                fields.put("event-id", event.getEventId());
                fields.put("event-type", event.getEventType());
                fields.put("event-time", event.getEventTime());
                fields.put("event-namespace", event.getEventNamespace());
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("event", fields);
                out.put("type", typeName(data));
                return out;
            }
            case "context": {
                Map<String, Object> fields = new LinkedHashMap<>();
                fields.put("function-name", context.getFunctionName());
                fields.put("timeout", context.getTimeout());
                fields.put("runtime", context.getRuntime());
                fields.put("memory-limit", context.getMemoryLimit());
                return Map.of("context", fields);
            }
            case "raise":
                throw new IllegalStateException(
                        "kubeless-conformance: a deliberate exception (the 500 case)");
            case "sleep": {
                double seconds = number(data.get("seconds"), 1);
                Thread.sleep((long) (seconds * 1000));
                return Map.of("slept", seconds);
            }
            case "late": {
                String token = String.valueOf(data.get("token"));
                if (!token.matches("[0-9a-f]{6,64}")) {
                    throw new IllegalArgumentException("token must be 6-64 lowercase hex digits");
                }
                mark(token, "start");
                Thread.sleep((long) (number(data.get("seconds"), 5) * 1000));
                mark(token, "done");
                return "kubeless-conformance: finished after the deadline";
            }
            case "deps": {
                Class<?> type = Class.forName("org.joda.time.LocalTime");
                String file = type.getProtectionDomain().getCodeSource().getLocation().getPath();
                String version = type.getPackage().getImplementationVersion();
                String jar = Path.of(file).getFileName().toString();
                if (jar.startsWith("joda-time-") && jar.endsWith(".jar")) {
                    version = jar.substring("joda-time-".length(), jar.length() - 4);
                }
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("name", "joda-time");
                out.put("version", version);
                out.put("file", file);
                out.put("works", type.getConstructor().newInstance() != null);
                return out;
            }
            default:
                throw new IllegalArgumentException("unknown conformance command " + name);
        }
    }

    private static double number(Object value, double otherwise) {
        return value instanceof Number ? ((Number) value).doubleValue() : otherwise;
    }

    /** The side effect the timeout case looks for: a stdout line and a file in /tmp. */
    private static void mark(String token, String stage) {
        System.out.println("kubeless-conformance " + stage + " " + token);
        System.out.flush();
        try {
            Files.writeString(Path.of("/tmp", "kubeless-conformance-" + token + "." + stage), stage);
        } catch (Exception ex) {
            // an unwritable /tmp leaves the stdout line as the only evidence
        }
    }
}
