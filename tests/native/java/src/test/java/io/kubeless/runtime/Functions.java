package io.kubeless.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** Test functions, compiled into a volume laid out as the compilation phase leaves it. */
final class Functions {
    static final String HELLO = """
            package io.kubeless;
            public class Foo {
                public String foo(Event event, Context context) throws Exception {
                    String path = event.getExtensions().getPath();
                    if (path.startsWith("/sleep")) {
                        Thread.sleep(Long.parseLong(event.getExtensions().getQuery()));
                        java.nio.file.Files.writeString(java.nio.file.Path.of(
                                System.getProperty("java.io.tmpdir"), "kubeless-late-"
                                + event.getEventId()), "done");
                    }
                    if (path.equals("/raise")) throw new IllegalStateException("boom");
                    if (path.equals("/exit")) System.exit(3);
                    return "hello " + event.Data;
                }
            }
            """;

    private Functions() {
    }

    /** Compiles {@code source} as io.kubeless.NAME into VOLUME/function/target/classes. */
    static Path compile(Path volume, String name, String source) throws Exception {
        Path sources = volume.resolve("src");
        Files.createDirectories(sources);
        Path file = sources.resolve(name + ".java");
        Files.writeString(file, source);
        Path classes = volume.resolve("function/target/classes");
        Files.createDirectories(classes);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int code = javac.run(null, null, null, "-cp", System.getProperty("java.class.path"),
                             "-d", classes.toString(), file.toString());
        if (code != 0) {
            throw new IllegalStateException("javac failed on " + file);
        }
        return classes;
    }

    static List<String> unused() {
        return List.of();
    }
}
