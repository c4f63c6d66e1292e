package io.kubeless.runtime;

import io.kubeless.Context;
import io.kubeless.Event;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A worker JVM: loads the handler once, then runs one call at a time for the server. The
 * server kills this process when a call overruns FUNC_TIMEOUT, which is what makes the
 * timeout hard; an exception answers 500 here, a crash (System.exit, OutOfMemoryError) ends
 * the process and the server answers 500 and starts another.
 */
public final class Worker {
    private final Config config;
    private final Method method;
    private final Object instance;
    private final Context context;

    Worker(Config config, Method method, Object instance) {
        this.config = config;
        this.method = method;
        this.instance = instance;
        this.context = new Context(config.functionName, config.timeoutText, config.runtime,
                                   config.memoryLimit);
    }

    public static void main(String[] args) throws Exception {
        Config config = new Config(System.getenv());
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(args[0]));
        DataInputStream in = new DataInputStream(new BufferedInputStream(
                Wire.input(channel), 65536));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
                Wire.output(channel), 65536));
        out.writeInt(Integer.parseInt(args[1]));
        Worker worker;
        try {
            worker = load(config);
        } catch (HandlerLoader.LoadError ex) {
            out.writeBoolean(false);
            Wire.writeString(out, ex.getMessage());
            out.flush();
            in.read();  // until the server has read the message and closed the socket
            System.exit(1);
            return;
        }
        out.writeBoolean(true);
        Wire.writeString(out, "");
        out.flush();
        while (true) {
            Wire.Request request;
            try {
                request = Wire.readRequest(in);
            } catch (EOFException ex) {
                System.exit(0);  // the server closed the socket: it is stopping
                return;
            }
            Wire.writeReply(out, worker.call(request));
        }
    }

    /** Loads and instantiates the handler; a failure is one paragraph for the termination log. */
    static Worker load(Config config) throws HandlerLoader.LoadError {
        ClassLoader loader = Worker.class.getClassLoader();
        Method method = HandlerLoader.find(loader, config.module, config.function,
                                           config.classesDir(), config.sourceFile());
        Object instance = null;
        if (!java.lang.reflect.Modifier.isStatic(method.getModifiers())) {
            try {
                instance = method.getDeclaringClass().getDeclaredConstructor().newInstance();
            } catch (InvocationTargetException ex) {
                throw new HandlerLoader.LoadError(config.sourceFile() + ": creating "
                        + method.getDeclaringClass().getName() + " failed: " + ex.getCause()
                        + ". Fix the constructor or field initialisers of the class.");
            } catch (ReflectiveOperationException | LinkageError ex) {
                throw new HandlerLoader.LoadError(config.sourceFile() + ": cannot create "
                        + method.getDeclaringClass().getName() + " (" + ex + "). Fix: give it "
                        + "a public constructor without arguments.");
            }
        }
        return new Worker(config, method, instance);
    }

    Wire.Reply call(Wire.Request request) {
        Event event;
        try {
            event = event(request);
        } catch (IllegalArgumentException ex) {
            return Wire.Reply.text(400, "Bad Request: " + ex.getMessage());
        }
        Object result;
        try {
            result = method.invoke(instance, event, context);
        } catch (InvocationTargetException ex) {
            Throwable cause = ex.getCause();
            System.err.println("function " + config.module + "." + config.function
                    + " raised an exception:");
            cause.printStackTrace();
            System.err.flush();
            return Wire.Reply.text(500, "Internal Server Error: "
                    + cause.getClass().getName());
        } catch (IllegalAccessException ex) {
            return Wire.Reply.text(500, "Internal Server Error: " + ex);
        }
        return reply(result);
    }

    static Event event(Wire.Request request) {
        String type = request.header("content-type");
        boolean isJson = type != null
                && type.toLowerCase(Locale.ROOT).trim().startsWith("application/json");
        Object json = null;
        if (isJson && request.body().length > 0) {
            json = Json.parse(new String(request.body(), StandardCharsets.UTF_8));
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String[] header : request.headers()) {
            headers.computeIfAbsent(header[0].toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                   .add(header[1]);
        }
        Event.Extensions extensions = new Event.Extensions(request.method(), request.path(),
                request.query() == null ? "" : request.query(), headers);
        return new Event(request.body(), json, isJson, request.header("event-id"),
                         request.header("event-type"), request.header("event-time"),
                         request.header("event-namespace"), extensions);
    }

    /** A String is the body; byte[] raw bytes; null an empty 200; anything else JSON. */
    static Wire.Reply reply(Object result) {
        if (result == null) {
            return new Wire.Reply(200, "text/plain; charset=utf-8", new byte[0]);
        }
        if (result instanceof byte[]) {
            return new Wire.Reply(200, "application/octet-stream", (byte[]) result);
        }
        if (result instanceof CharSequence) {
            return new Wire.Reply(200, "text/plain; charset=utf-8",
                                  result.toString().getBytes(StandardCharsets.UTF_8));
        }
        return new Wire.Reply(200, "application/json",
                              Json.write(result).getBytes(StandardCharsets.UTF_8));
    }
}
