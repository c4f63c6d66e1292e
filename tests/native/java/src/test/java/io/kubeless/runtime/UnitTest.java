package io.kubeless.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kubeless.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnitTest {
    @Test
    void contextNamesTheHandlerAsKubelessDoes() {
        Config config = new Config(Map.of("MOD_NAME", "Foo", "FUNC_HANDLER", "foo",
                "KUBELESS_FUNC_NAME", "my-deployment", "FUNC_NAME", "my-deployment"));
        assertEquals("foo", config.functionName);
    }

    @Test
    void jsonRoundTrips() {
        String text = "{\"name\":\"kubeless\",\"n\":42,\"pi\":3.25,\"list\":[1,\"two\",null,true],"
                + "\"nested\":{\"ok\":true,\"empty\":{}},\"unicode\":\"h\u00e9llo \u2713\\n\"}";
        Object parsed = Json.parse(text);
        assertEquals(42L, ((Map<?, ?>) parsed).get("n"));
        assertEquals(parsed, Json.parse(Json.write(parsed)));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
    }

    @Test
    void eventKeepsEveryByteAndParsesJson() {
        byte[] body = "line one\nline two\r\n".getBytes(StandardCharsets.UTF_8);
        Wire.Request text = new Wire.Request("POST", "/", "", List.<String[]>of(
                new String[] {"content-type", "text/plain"},
                new String[] {"event-id", "42"}), body);
        Event event = Worker.event(text);
        assertEquals("line one\nline two\r\n", event.Data);
        assertEquals("42", event.getEventId());
        assertNull(event.getJson());
        Wire.Request json = new Wire.Request("PUT", "/p", "q=1", List.<String[]>of(
                new String[] {"content-type", "application/json; charset=utf-8"}),
                "{\"a\":[1,2]}".getBytes(StandardCharsets.UTF_8));
        Event parsed = Worker.event(json);
        assertEquals(Map.of("a", List.of(1L, 2L)), parsed.getJson());
        assertEquals("PUT", parsed.getExtensions().getMethod());
        assertEquals("q=1", parsed.getExtensions().getQuery());
    }

    @Test
    void repliesByReturnType() {
        assertEquals("text/plain; charset=utf-8", Worker.reply("hi").contentType());
        assertEquals("application/json", Worker.reply(Map.of("a", 1)).contentType());
        assertEquals(3, Worker.reply(new byte[] {0, 1, 2}).body().length);
        assertEquals(0, Worker.reply(null).body().length);
    }

    @Test
    void metricsAreLabelledByMethod() {
        Metrics metrics = new Metrics();
        metrics.observe("GET", 0.02, false);
        metrics.observe("POST", 2, true);
        String text = metrics.exposition();
        assertTrue(text.contains("function_calls_total{method=\"GET\"} 1"), text);
        assertTrue(text.contains("function_failures_total{method=\"POST\"} 1"), text);
        assertTrue(text.contains("function_duration_seconds_bucket{method=\"GET\",le=\"0.025\"} 1"));
        assertTrue(text.contains("# TYPE function_duration_seconds histogram"));
        assertEquals("OTHER", Server.label("get\"}"));
    }

    @Test
    void compileErrorsAreTheCompilersLines() {
        List<String> log = List.of(
                "[INFO] Compiling 1 source file with javac [debug release 17] to target/classes",
                "[INFO] -------------------------------------------------------------",
                "[ERROR] COMPILATION ERROR : ",
                "[INFO] -------------------------------------------------------------",
                "[ERROR] /kubeless/function/src/main/java/io/kubeless/Foo.java:[6,9] cannot find symbol",
                "  symbol:   class Strin",
                "  location: class io.kubeless.Foo",
                "[INFO] 1 error",
                "[INFO] -------------------------------------------------------------",
                "[ERROR] Failed to execute goal ... Compilation failure");
        assertEquals("Foo.java:[6,9] cannot find symbol\n  symbol:   class Strin\n"
                + "  location: class io.kubeless.Foo", Build.errors(log, true));
        List<String> resolve = List.of("[INFO] Scanning", "[ERROR] Failed to execute goal on "
                + "project function: Could not resolve dependencies", "[ERROR] -> [Help 1]");
        assertTrue(Build.errors(resolve, false).startsWith("Failed to execute goal on project"));
    }

    @Test
    void mirrorGoesIntoSettingsXmlEscaped(@TempDir Path work) throws Exception {
        Build build = new Build(Map.of("MAVEN_MIRROR_URL", "https://repo.example.com/m2/?a=1&b=2"),
                                work);
        String xml = Files.readString(build.settings());
        assertTrue(xml.contains("<url>https://repo.example.com/m2/?a=1&amp;b=2</url>"), xml);
        Build bad = new Build(Map.of("MAVEN_MIRROR_URL", "$(touch /tmp/x)"), work);
        assertThrows(IllegalArgumentException.class, bad::settings);
    }

    @Test
    void missingHandlerNamesWhatTheFileDefines(@TempDir Path volume) throws Exception {
        Path classes = Functions.compile(volume, "Foo", Functions.HELLO);
        ClassLoader loader = new java.net.URLClassLoader(new java.net.URL[] {
            classes.toUri().toURL()}, getClass().getClassLoader());
        HandlerLoader.LoadError noClass = assertThrows(HandlerLoader.LoadError.class,
                () -> HandlerLoader.find(loader, "Bar", "foo", classes, "/kubeless/Bar.java"));
        assertTrue(noClass.getMessage().contains("the function defines io.kubeless.Foo")
                || noClass.getMessage().contains("defines Foo"), noClass.getMessage());
        HandlerLoader.LoadError noMethod = assertThrows(HandlerLoader.LoadError.class,
                () -> HandlerLoader.find(loader, "Foo", "bar", classes, "/kubeless/Foo.java"));
        assertTrue(noMethod.getMessage().contains("foo(Event, Context)"), noMethod.getMessage());
    }

    @Test
    void workersFitTheMemory() {
        assertEquals(2, Config.workersForMemory(128L << 20));
        assertEquals(4, Config.workersForMemory(256L << 20));
        assertEquals(8, Config.workersForMemory(8L << 30));
    }
}
