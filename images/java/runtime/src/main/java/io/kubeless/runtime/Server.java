package io.kubeless.runtime;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The Kubeless Java runtime: the JDK's HTTP server on FUNC_PORT answering /healthz and
 * /metrics itself and sending every other request, any path and method, to the function in a
 * {@link WorkerPool} of worker JVMs. One Apache combined log line per request on stdout.
 */
public final class Server {
    static final String DEFAULT_CDS = "/opt/kubeless/worker.jsa";
    private static final DateTimeFormatter LOG_DATE =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT);

    private final Config config;
    private final WorkerPool pool;
    private final Metrics metrics = new Metrics();
    private final PrintStream log;
    private HttpServer http;

    Server(Config config, WorkerPool pool, PrintStream log) {
        this.config = config;
        this.pool = pool;
        this.log = log;
    }

    public static void main(String[] args) throws Exception {
        // Without TCP_NODELAY the headers and the body leave in two segments and every
        // keep-alive request waits ~40 ms for a delayed ACK.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Config config;
        try {
            config = new Config(System.getenv());
        } catch (IllegalArgumentException ex) {
            fail(ex.getMessage());
            return;
        }
        WorkerPool pool = new WorkerPool(workerCommand(config, System.getenv()), Map.of(),
                                         config.workersMin, config.workersMax,
                                         config.workerIdleSeconds);
        String error = pool.start(60_000);
        if (error != null) {
            pool.close();
            fail(error);
            return;
        }
        Server server = new Server(config, pool, System.out);
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "sigterm"));
        System.err.println("kubeless java runtime: " + config.module + "." + config.function
                + " on port " + config.port + ", FUNC_TIMEOUT=" + config.timeoutText
                + " s, workers " + config.workersMin + "-" + config.workersMax);
    }

    /** Writes the paragraph to the termination log (as Kubernetes shows it) and exits 1. */
    static void fail(String message) {
        System.err.println(message);
        String path = System.getenv().getOrDefault("KUBELESS_TERMINATION_LOG",
                                                   "/dev/termination-log");
        Path file = Path.of(path);
        if (System.getenv("KUBELESS_TERMINATION_LOG") != null || Files.exists(file)) {
            try {
                Files.writeString(file, message + "\n");
            } catch (IOException ex) {
                System.err.println("cannot write " + path + ": " + ex.getMessage());
            }
        }
        System.exit(1);
    }

    /** java, options, classpath (ours, the function's classes and jars), Worker. No shell. */
    static List<String> workerCommand(Config config, Map<String, String> env) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        int heapPercent = Math.max(10, 60 / Math.max(1, config.workersMax));
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-Xss512k");
        command.add("-XX:+ExitOnOutOfMemoryError");
        command.add("-XX:MaxRAMPercentage=" + heapPercent);
        String cds = env.getOrDefault("KUBELESS_WORKER_CDS", DEFAULT_CDS);
        if (!cds.isEmpty() && Files.isReadable(Path.of(cds))) {
            command.add("-XX:SharedArchiveFile=" + cds);
            command.add("-Xlog:cds=off");
            command.add("-Xlog:cds+dynamic=off");
        }
        for (String option : config.workerOptions.trim().split("\\s+")) {
            if (!option.isEmpty()) {
                command.add(option);
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path") + File.pathSeparator
                + config.classesDir() + File.pathSeparator + config.libDir() + File.separator
                + "*");
        command.add(Worker.class.getName());
        return command;
    }

    void start() throws IOException {
        http = HttpServer.create(new InetSocketAddress(config.port), 1024);
        http.createContext("/", this::handle);
        http.setExecutor(executor());
        http.start();
    }

    /** Virtual threads where the JDK has them (21), else a growing pool of threads. */
    static ExecutorService executor() {
        try {
            return (ExecutorService) Executors.class
                    .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (ReflectiveOperationException ex) {
            return Executors.newCachedThreadPool(task -> {
                Thread thread = new Thread(task, "http");
                thread.setDaemon(true);
                return thread;
            });
        }
    }

    /** SIGTERM: stop taking requests, let calls in flight finish (the grace period), exit. */
    void stop() {
        if (http != null) {
            http.stop(config.graceSeconds);
        }
        pool.close();
        log.flush();
    }

    void handle(HttpExchange exchange) {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        int status = 500;
        long size = 0;
        try {
            exchange.getResponseHeaders().set("Access-Control-Allow-Origin", "*");
            if (path.equals("/healthz")) {
                status = 200;
                size = send(exchange, 200, "text/plain; charset=utf-8", bytes("OK"));
            } else if (path.equals("/metrics") && method.equals("GET")) {
                status = 200;
                size = send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
                            bytes(metrics.exposition()));
            } else if (method.equals("OPTIONS")) {
                status = 204;
                preflight(exchange);
            } else {
                Wire.Reply reply = call(exchange, method);
                status = reply.status();
                size = send(exchange, reply.status(), reply.contentType(), reply.body());
            }
        } catch (IOException ex) {
            status = 499;  // the client went away
        } catch (RuntimeException ex) {
            ex.printStackTrace();
        } finally {
            exchange.close();
            log(exchange, method, status, size);
        }
    }

    private Wire.Reply call(HttpExchange exchange, String method) throws IOException {
        byte[] body = readBody(exchange);
        if (body == null) {
            exchange.getResponseHeaders().set("Connection", "close");
            return Wire.Reply.text(413, "Payload Too Large: the body is over REQ_MB_LIMIT="
                    + config.bodyLimit / (1024 * 1024) + " MB");
        }
        List<String[]> headers = new ArrayList<>();
        exchange.getRequestHeaders().forEach((name, values) -> {
            for (String value : values) {
                headers.add(new String[] {name.toLowerCase(Locale.ROOT), value});
            }
        });
        String query = exchange.getRequestURI().getRawQuery();
        Wire.Request request = new Wire.Request(method, exchange.getRequestURI().getRawPath(),
                query == null ? "" : query, headers, body);
        long started = System.nanoTime();
        WorkerPool.Result result;
        try {
            result = pool.invoke(request, (long) (config.timeoutSeconds * 1e9));
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            result = new WorkerPool.Result(WorkerPool.Outcome.CRASH, null);
        }
        Wire.Reply reply = switch (result.outcome()) {
            case REPLY -> result.reply();
            case TIMEOUT -> Wire.Reply.text(408, "Request Timeout: the function timed out after "
                    + config.timeoutText + " s (FUNC_TIMEOUT) and was stopped");
            case CRASH -> Wire.Reply.text(500, "Internal Server Error: the function's worker "
                    + "JVM exited during the call (System.exit, OutOfMemoryError or a crash)");
        };
        if (reply.status() != 400) {
            metrics.observe(label(method), (System.nanoTime() - started) / 1e9,
                            result.outcome() != WorkerPool.Outcome.REPLY || reply.status() >= 500);
        }
        return reply;
    }

    /** The body, or null when it is over REQ_MB_LIMIT (checked before reading when it can). */
    private byte[] readBody(HttpExchange exchange) throws IOException {
        String length = exchange.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > config.bodyLimit) {
                    return null;
                }
            } catch (NumberFormatException ex) {
                return null;
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[65536];
        try (InputStream in = exchange.getRequestBody()) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
                if (out.size() > config.bodyLimit) {
                    return null;
                }
            }
        }
        return out.toByteArray();
    }

    private void preflight(HttpExchange exchange) throws IOException {
        Headers headers = exchange.getResponseHeaders();
        headers.set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
        String asked = exchange.getRequestHeaders().getFirst("Access-Control-Request-Headers");
        if (asked != null) {
            headers.set("Access-Control-Allow-Headers", asked);
        }
        headers.set("Vary", "Access-Control-Request-Headers");
        exchange.sendResponseHeaders(204, -1);
    }

    private static long send(HttpExchange exchange, int status, String type, byte[] body)
            throws IOException {
        if (type != null) {
            exchange.getResponseHeaders().set("Content-Type", type);
        }
        boolean empty = body.length == 0 || exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, empty ? -1 : body.length);
        if (!empty) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
        return body.length;
    }

    /** A method as a metric label: one of the HTTP methods, never free text. */
    static String label(String method) {
        return method.matches("[A-Z]{1,10}") ? method : "OTHER";
    }

    private void log(HttpExchange exchange, String method, int status, long size) {
        Headers headers = exchange.getRequestHeaders();
        String line = exchange.getRemoteAddress().getAddress().getHostAddress() + " - - ["
                + LOG_DATE.format(ZonedDateTime.now()) + "] \"" + method + " "
                + exchange.getRequestURI().getRawPath()
                + (exchange.getRequestURI().getRawQuery() == null ? ""
                   : "?" + exchange.getRequestURI().getRawQuery())
                + " " + exchange.getProtocol() + "\" " + status + " " + (size == 0 ? "-" : size)
                + " \"" + quoted(headers.getFirst("Referer")) + "\" \""
                + quoted(headers.getFirst("User-Agent")) + "\"";
        log.println(line);
    }

    private static String quoted(String value) {
        return value == null ? "-" : value.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
