package io.kubeless.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The server with real worker JVMs, over HTTP. */
class ServerTest {
    static Path volume;
    static Server server;
    static WorkerPool pool;
    static ByteArrayOutputStream log = new ByteArrayOutputStream();
    static String base;
    static final HttpClient client = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        volume = Files.createTempDirectory("kubeless-test-");
        Functions.compile(volume, "Foo", Functions.HELLO);
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Map<String, String> env = new HashMap<>();
        env.put("MOD_NAME", "Foo");
        env.put("FUNC_HANDLER", "foo");
        env.put("KUBELESS_INSTALL_VOLUME", volume.toString());
        env.put("FUNC_TIMEOUT", "1");
        env.put("FUNC_PORT", String.valueOf(port));
        env.put("KUBELESS_WORKERS_MIN", "2");
        env.put("KUBELESS_WORKERS_MAX", "4");
        env.put("REQ_MB_LIMIT", "1");
        Config config = new Config(env);
        pool = new WorkerPool(Server.workerCommand(config, env), env, 2, 4, 60);
        assertEquals(null, pool.start(30_000));
        server = new Server(config, pool, new PrintStream(log, true));
        server.start();
        base = "http://127.0.0.1:" + port;
    }

    @AfterAll
    static void stop() {
        server.stop();
    }

    static HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                                             : HttpRequest.BodyPublishers.ofString(body))
                .build();
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void callsTheFunctionOnAnyPathAndMethod() throws Exception {
        HttpResponse<String> answer = send("PATCH", "/any/path?x=1", "a\nb\n");
        assertEquals(200, answer.statusCode());
        assertEquals("hello a\nb\n", answer.body());
        assertEquals("*", answer.headers().firstValue("access-control-allow-origin").orElse(""));
        assertTrue(log.toString().contains("\"PATCH /any/path?x=1 HTTP/1.1\" 200"), log.toString());
    }

    @Test
    void timeoutAnswers408AndStopsTheCall() throws Exception {
        String token = "t" + System.nanoTime();
        HttpResponse<String> answer = client.send(HttpRequest.newBuilder(
                URI.create(base + "/sleep?2500")).header("event-id", token).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(408, answer.statusCode());
        Thread.sleep(2500);
        Path marker = Path.of(System.getProperty("java.io.tmpdir"), "kubeless-late-" + token);
        assertFalse(Files.exists(marker), "the call ran on after its deadline");
        assertEquals(200, send("GET", "/", null).statusCode());
    }

    @Test
    void exceptionAndExitGive500AndTheServerLives() throws Exception {
        assertEquals(500, send("GET", "/raise", null).statusCode());
        assertEquals(500, send("GET", "/exit", null).statusCode());
        assertEquals(200, send("GET", "/", null).statusCode());
        String metrics = send("GET", "/metrics", null).body();
        assertTrue(metrics.contains("function_failures_total{method=\"GET\"}"), metrics);
    }

    @Test
    void callsRunInParallel() throws Exception {
        long started = System.nanoTime();
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/sleep?300"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> call : calls) {
            assertEquals(200, call.get().statusCode());
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        assertTrue(seconds < 1.0, "4 calls of 0.3 s took " + seconds + " s");
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        assertEquals(413, send("POST", "/", "x".repeat(1024 * 1024 + 1)).statusCode());
        assertEquals(200, send("GET", "/healthz", null).statusCode());
    }

    @Test
    void preflightAnswersCors() throws Exception {
        HttpResponse<String> answer = send("OPTIONS", "/", null);
        assertEquals(204, answer.statusCode());
        assertTrue(answer.headers().firstValue("access-control-allow-methods").orElse("")
                .contains("DELETE"));
    }
}
