package io.kubeless.runtime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The installation and compilation phases, as one program run with Maven (no shell): lays out
 * the Maven project Kubeless used ({@code /kubeless/function}: the function's pom.xml, or a
 * default one, and the .java files under src/main/java/io/kubeless), then
 * <ul>
 *   <li>{@code install}: resolves the pom's dependencies and keeps what Maven downloaded in
 *       {@code /kubeless/.m2/repository};</li>
 *   <li>{@code compile}: compiles offline, copies the runtime dependencies to
 *       {@code target/lib} and checks the handler exists.</li>
 * </ul>
 * A failure writes the compiler's own lines (or Maven's errors) to the termination log.
 */
public final class Build {
    static final String DEPENDENCY_PLUGIN =
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1";
    static final String DEFAULT_POM = """
            <?xml version="1.0" encoding="UTF-8"?>
            <project xmlns="http://maven.apache.org/POM/4.0.0">
              <modelVersion>4.0.0</modelVersion>
              <parent>
                <groupId>io.kubeless</groupId>
                <artifactId>kubeless</artifactId>
                <version>1.0-SNAPSHOT</version>
              </parent>
              <artifactId>function</artifactId>
              <name>function</name>
              <version>1.0-SNAPSHOT</version>
              <dependencies>
                <dependency>
                  <groupId>io.kubeless</groupId>
                  <artifactId>params</artifactId>
                  <version>1.0-SNAPSHOT</version>
                </dependency>
              </dependencies>
            </project>
            """;
    private static final Pattern JAVAC = Pattern.compile("^\\[ERROR\\] (?:.*/)?([^/]+\\.java):(.*)$");

    private final Map<String, String> env;
    private final Path volume;
    private final Path project;
    private final Path repository;
    private final Path work;

    Build(Map<String, String> env, Path work) {
        this.env = env;
        this.volume = Path.of(env.getOrDefault("KUBELESS_INSTALL_VOLUME", "/kubeless"));
        this.project = volume.resolve("function");
        this.repository = Path.of(env.getOrDefault("KUBELESS_MAVEN_REPOSITORY",
                                                   "/opt/kubeless/m2"));
        this.work = work;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1 || !(args[0].equals("install") || args[0].equals("compile"))) {
            System.err.println("usage: Build install|compile");
            System.exit(2);
        }
        Build build = new Build(System.getenv(), Files.createTempDirectory("kubeless-build-"));
        String error;
        try {
            error = args[0].equals("install") ? build.install() : build.compile();
        } catch (IllegalArgumentException ex) {
            error = ex.getMessage();
        }
        if (error != null) {
            Server.fail(error);
        }
    }

    /** Installation: resolve the pom's dependencies; keep the downloads in the volume. */
    String install() throws Exception {
        layout();
        Set<Path> before = files(repository);
        Maven maven = maven(false, DEPENDENCY_PLUGIN + ":resolve");
        if (maven.code != 0) {
            return "mvn could not resolve the dependencies of " + depsFile() + ":\n"
                    + errors(maven.lines, false);
        }
        Path kept = volume.resolve(".m2/repository");
        int copied = 0;
        for (Path file : files(repository)) {
            if (!before.contains(file)) {
                Path target = kept.resolve(repository.relativize(file));
                Files.createDirectories(target.getParent());
                Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                copied++;
            }
        }
        System.out.println("kept " + copied + " downloaded files in " + kept);
        return null;
    }

    /** Compilation: offline Maven build, dependencies to target/lib, then the handler check. */
    String compile() throws Exception {
        layout();
        Path kept = volume.resolve(".m2/repository");
        for (Path file : files(kept)) {
            Path target = repository.resolve(kept.relativize(file));
            Files.createDirectories(target.getParent());
            Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
        }
        Maven maven = maven(true, "compile", DEPENDENCY_PLUGIN + ":copy-dependencies",
                "-DoutputDirectory=" + project.resolve("target/lib"), "-DincludeScope=runtime",
                "-DexcludeGroupIds=io.kubeless", "-Dmdep.useRepositoryLayout=false");
        if (maven.code != 0) {
            return errors(maven.lines, true);
        }
        return checkHandler();
    }

    /** The Kubeless project layout under /kubeless/function. */
    void layout() throws IOException {
        Path sources = project.resolve("src/main/java/io/kubeless");
        Files.createDirectories(sources);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(volume, "*.java")) {
            for (Path file : files) {
                Files.copy(file, sources.resolve(file.getFileName()),
                           StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path deps = depsFile();
        if (Files.isRegularFile(deps) && Files.size(deps) > 0) {
            Files.copy(deps, project.resolve("pom.xml"), StandardCopyOption.REPLACE_EXISTING);
        } else {
            Files.writeString(project.resolve("pom.xml"), DEFAULT_POM);
        }
    }

    private Path depsFile() {
        return Path.of(env.getOrDefault("KUBELESS_DEPS_FILE", volume.resolve("pom.xml").toString()));
    }

    record Maven(int code, List<String> lines) {
    }

    /** Runs mvn with our settings.xml and truststore; its output goes to the log as well. */
    Maven maven(boolean offline, String... goals) throws Exception {
        List<String> command = new ArrayList<>(List.of("mvn", "-B", "-s",
                settings().toString(), "-f", project.resolve("pom.xml").toString(),
                "-Dmaven.test.skip=true"));
        if (offline) {
            command.add("-o");
        }
        command.addAll(List.of(goals));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .directory(project.toFile());
        // A build is one short JVM run: the client compiler and serial GC start it fastest.
        String options = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
                + env.getOrDefault("MAVEN_OPTS", "");
        String bundle = env.getOrDefault("KUBELESS_CA_BUNDLE", "");
        if (!bundle.isEmpty() && Files.isReadable(Path.of(bundle))
                && Files.size(Path.of(bundle)) > 0) {
            Path store = work.resolve("truststore.p12");
            Truststore.write(Path.of(bundle), store);
            options += " -Djavax.net.ssl.trustStore=" + store
                    + " -Djavax.net.ssl.trustStorePassword=" + Truststore.PASSWORD
                    + " -Djavax.net.ssl.trustStoreType=PKCS12";
        }
        builder.environment().put("MAVEN_OPTS", options.trim());
        Process process = builder.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                System.out.println(line);
                lines.add(line);
            }
        }
        return new Maven(process.waitFor(), lines);
    }

    /** settings.xml: the local repository and, from MAVEN_MIRROR_URL, a mirror of everything. */
    Path settings() throws IOException {
        StringBuilder xml = new StringBuilder("<settings>\n  <localRepository>")
                .append(escape(repository.toString())).append("</localRepository>\n");
        String mirror = env.getOrDefault("MAVEN_MIRROR_URL", "").trim();
        if (!mirror.isEmpty()) {
            URI uri;
            try {
                uri = new URI(mirror);
            } catch (java.net.URISyntaxException ex) {
                uri = null;
            }
            if (uri == null || uri.getHost() == null
                    || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
                throw new IllegalArgumentException("MAVEN_MIRROR_URL=" + mirror + " is not an "
                        + "http(s) URL; give e.g. --env MAVEN_MIRROR_URL=https://repo.example.com/maven2/");
            }
            xml.append("  <mirrors>\n    <mirror>\n      <id>kubeless-mirror</id>\n")
               .append("      <mirrorOf>*</mirrorOf>\n      <url>").append(escape(mirror))
               .append("</url>\n    </mirror>\n  </mirrors>\n");
        }
        xml.append("</settings>\n");
        Path file = work.resolve("settings.xml");
        Files.writeString(file, xml);
        return file;
    }

    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace("\"", "&quot;").replace("'", "&apos;");
    }

    /**
     * The compiler's own lines ({@code Foo.java:[6,9] cannot find symbol} and the symbol and
     * location lines after it) when javac failed, else Maven's [ERROR] lines.
     */
    static String errors(List<String> lines, boolean compiling) {
        List<String> out = new ArrayList<>();
        if (compiling) {
            boolean inError = false;
            for (String line : lines) {
                Matcher javac = JAVAC.matcher(line);
                if (line.contains("COMPILATION ERROR")) {
                    inError = true;
                } else if (inError && line.startsWith("[INFO]")) {
                    if (!out.isEmpty()) {
                        break;
                    }
                } else if (inError && javac.matches()) {
                    out.add(javac.group(1) + ":" + javac.group(2));
                } else if (inError && !out.isEmpty() && !line.startsWith("[")) {
                    out.add(line);
                }
            }
        }
        if (out.isEmpty()) {
            for (String line : lines) {
                if (line.startsWith("[ERROR] -> [Help") || line.startsWith("[ERROR] To see")) {
                    break;
                }
                if (line.startsWith("[ERROR] ") && line.trim().length() > "[ERROR]".length()) {
                    out.add(line.substring("[ERROR] ".length()));
                }
            }
        }
        String text = String.join("\n", out.subList(0, Math.min(out.size(), 40)));
        return text.length() > 3800 ? text.substring(0, 3800) + "\n..." : text;
    }

    /** The handler exists: class io.kubeless.MOD_NAME with FUNC_HANDLER(Event, Context). */
    String checkHandler() throws IOException {
        Path classes = project.resolve("target/classes");
        List<URL> urls = new ArrayList<>(List.of(classes.toUri().toURL()));
        Path lib = project.resolve("target/lib");
        if (Files.isDirectory(lib)) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(lib, "*.jar")) {
                for (Path jar : jars) {
                    urls.add(jar.toUri().toURL());
                }
            }
        }
        String module = env.getOrDefault("MOD_NAME", "");
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]),
                                                        Build.class.getClassLoader())) {
            HandlerLoader.find(loader, module, env.getOrDefault("FUNC_HANDLER", ""), classes,
                               volume.resolve(module + ".java").toString());
        } catch (HandlerLoader.LoadError ex) {
            return ex.getMessage();
        }
        System.out.println("compiled " + module + "; handler found");
        return null;
    }

    private static Set<Path> files(Path root) throws IOException {
        Set<Path> found = new HashSet<>();
        if (Files.isDirectory(root)) {
            try (Stream<Path> walk = Files.walk(root)) {
                walk.filter(Files::isRegularFile).forEach(found::add);
            }
        }
        return found;
    }
}
