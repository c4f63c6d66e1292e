package io.kubeless.runtime;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Worker JVMs, each running one call at a time: kept warm (min), grown on demand (max), shrunk
 * after an idle time. A call past its deadline kills its worker's process (SIGKILL), so the
 * function really stops; calls in other workers are untouched. A worker that dies is replaced.
 */
public final class WorkerPool implements AutoCloseable {
    /** What happened to a call besides a reply. */
    public enum Outcome { REPLY, TIMEOUT, CRASH }

    public record Result(Outcome outcome, Wire.Reply reply) {
    }

    private final List<String> command;
    private final Map<String, String> environment;
    private final int min;
    private final int max;
    private final long idleNanos;
    private final Path socketPath;
    private final ServerSocketChannel listener;
    private final ArrayDeque<Handle> idle = new ArrayDeque<>();
    private final Map<Integer, Handle> connecting = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    private int total;
    private volatile boolean closed;

    /**
     * {@code command} starts a worker (the socket path and the worker's id are appended) with
     * {@code environment} added to this process's own.
     */
    public WorkerPool(List<String> command, Map<String, String> environment, int min, int max,
                      int idleSeconds) throws IOException {
        this.command = List.copyOf(command);
        this.environment = Map.copyOf(environment);
        this.min = min;
        this.max = Math.max(min, max);
        this.idleNanos = TimeUnit.SECONDS.toNanos(idleSeconds);
        this.socketPath = Files.createTempDirectory("kubeless-workers-").resolve("socket");
        this.listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(socketPath));
        Thread acceptor = new Thread(this::accept, "worker-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
        Thread reaper = new Thread(this::reap, "worker-reaper");
        reaper.setDaemon(true);
        reaper.start();
    }

    /**
     * Starts the warm workers and waits for the first to load the function.
     *
     * @return null when it loaded, else the worker's load error (for the termination log)
     */
    public String start(long waitMillis) throws InterruptedException {
        List<Handle> started = new ArrayList<>();
        synchronized (this) {
            for (int i = 0; i < min; i++) {
                started.add(spawn());
            }
        }
        try {
            return started.get(0).loaded.get(waitMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException ex) {
            return "the function did not load within " + waitMillis / 1000 + " s";
        } catch (ExecutionException ex) {
            return "the worker JVM exited while loading the function: "
                    + ex.getCause().getMessage() + " (its error is in the log above)";
        }
    }

    /** Runs one call; waits for a free worker as part of the deadline. */
    public Result invoke(Wire.Request request, long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        Handle worker = acquire(deadline);
        if (worker == null) {
            return new Result(Outcome.TIMEOUT, null);
        }
        CompletableFuture<Wire.Reply> reply = worker.send(request);
        try {
            Wire.Reply answer = reply.get(Math.max(0, deadline - System.nanoTime()),
                                          TimeUnit.NANOSECONDS);
            release(worker);
            return new Result(Outcome.REPLY, answer);
        } catch (TimeoutException ex) {
            worker.kill();
            release(worker);
            return new Result(Outcome.TIMEOUT, null);
        } catch (ExecutionException ex) {
            worker.kill();
            release(worker);
            return new Result(Outcome.CRASH, null);
        } catch (InterruptedException ex) {
            worker.kill();
            release(worker);
            throw ex;
        }
    }

    public synchronized int size() {
        return total;
    }

    public synchronized int idleCount() {
        return idle.size();
    }

    private synchronized Handle acquire(long deadline) throws InterruptedException {
        while (!closed) {
            Handle worker = idle.pollFirst();
            if (worker != null) {
                if (worker.usable()) {
                    return worker;
                }
                drop(worker);
                continue;
            }
            if (total < max) {
                spawn();
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return null;
    }

    private synchronized void release(Handle worker) {
        if (!closed && worker.usable()) {
            worker.lastUsed = System.nanoTime();
            idle.addFirst(worker);  // most recently used first: the others can go idle
            notifyAll();
        } else {
            drop(worker);
        }
    }

    /** Forget a dead worker and start another if fewer than min remain. */
    private synchronized void drop(Handle worker) {
        drop(worker, true);
    }

    private synchronized void drop(Handle worker, boolean replace) {
        if (worker.counted) {
            worker.counted = false;
            total--;
        }
        idle.remove(worker);
        worker.kill();
        if (replace && !closed && total < min) {
            spawn();
        }
        notifyAll();
    }

    private synchronized Handle spawn() {
        int id = ids.incrementAndGet();
        Handle worker = new Handle(id);
        worker.counted = true;
        total++;
        connecting.put(id, worker);
        List<String> line = new ArrayList<>(command);
        line.add(socketPath.toString());
        line.add(String.valueOf(id));
        try {
            ProcessBuilder builder = new ProcessBuilder(line).inheritIO()
                    .redirectInput(ProcessBuilder.Redirect.PIPE);
            builder.environment().putAll(environment);
            worker.process = builder.start();
        } catch (IOException ex) {
            connecting.remove(id);
            worker.counted = false;
            total--;
            worker.loaded.completeExceptionally(ex);
            System.err.println("cannot start a worker JVM: " + ex.getMessage());
            return worker;
        }
        worker.process.onExit().thenRun(() -> {
            worker.loaded.completeExceptionally(new IOException("exit code "
                    + worker.process.exitValue()));
            worker.failPending();
            connecting.remove(id);
            synchronized (this) {
                // A busy worker is dropped by its call; one that never loaded is not
                // replaced here, so a function that fails to load cannot spin.
                if (worker.counted && (idle.contains(worker) || worker.out == null)) {
                    drop(worker, worker.out != null);
                }
            }
        });
        return worker;
    }

    private void accept() {
        while (!closed) {
            try {
                SocketChannel channel = listener.accept();
                Thread reader = new Thread(() -> handshake(channel), "worker-reader");
                reader.setDaemon(true);
                reader.start();
            } catch (IOException ex) {
                if (!closed) {
                    System.err.println("worker socket: " + ex.getMessage());
                }
                return;
            }
        }
    }

    private void handshake(SocketChannel channel) {
        try {
            DataInputStream in = new DataInputStream(new BufferedInputStream(
                    Wire.input(channel), 65536));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
                    Wire.output(channel), 65536));
            Handle worker = connecting.remove(in.readInt());
            if (worker == null) {
                channel.close();
                return;
            }
            boolean ok = in.readBoolean();
            String message = Wire.readString(in);
            if (!ok) {
                worker.loaded.complete(message);
                channel.close();  // the worker waits for this before it exits
                return;
            }
            worker.channel = channel;
            worker.in = in;
            worker.out = out;
            worker.loaded.complete(null);
            release(worker);
            worker.readReplies();
        } catch (IOException ex) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a broken socket
            }
        }
    }

    private void reap() {
        while (!closed) {
            try {
                Thread.sleep(Math.max(1000, Math.min(10_000, idleNanos / 1_000_000 / 4)));
            } catch (InterruptedException ex) {
                return;
            }
            synchronized (this) {
                long now = System.nanoTime();
                while (total > min && !idle.isEmpty()
                        && now - idle.peekLast().lastUsed > idleNanos) {
                    drop(idle.pollLast());
                }
            }
        }
    }

    /** Kills every worker: the server is stopping. */
    @Override
    public void close() {
        List<Handle> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(idle);
            idle.clear();
            notifyAll();
        }
        all.forEach(Handle::kill);
        connecting.values().forEach(Handle::kill);
        try {
            listener.close();
            Files.deleteIfExists(socketPath);
            Files.deleteIfExists(socketPath.getParent());
        } catch (IOException ignored) {
            // best effort on the way out
        }
    }

    /** One worker process and its socket. */
    private static final class Handle {
        final int id;
        final CompletableFuture<String> loaded = new CompletableFuture<>();
        Process process;
        SocketChannel channel;
        DataInputStream in;
        DataOutputStream out;
        volatile CompletableFuture<Wire.Reply> busy;
        boolean counted;
        volatile boolean dead;
        long lastUsed = System.nanoTime();

        Handle(int id) {
            this.id = id;
        }

        CompletableFuture<Wire.Reply> send(Wire.Request request) {
            CompletableFuture<Wire.Reply> reply = new CompletableFuture<>();
            busy = reply;
            try {
                Wire.writeRequest(out, request);
            } catch (IOException ex) {
                reply.completeExceptionally(ex);
            }
            return reply;
        }

        /** The worker's own thread: completes each call's future with its reply. */
        void readReplies() {
            try {
                while (true) {
                    Wire.Reply reply = Wire.readReply(in);
                    CompletableFuture<Wire.Reply> waiting = busy;
                    busy = null;
                    if (waiting != null) {
                        waiting.complete(reply);
                    }
                }
            } catch (IOException ex) {
                failPending();
                kill();
            }
        }

        void failPending() {
            CompletableFuture<Wire.Reply> waiting = busy;
            if (waiting != null) {
                waiting.completeExceptionally(new IOException("the worker JVM exited"));
            }
        }

        boolean usable() {
            return !dead && out != null && process.isAlive();
        }

        void kill() {
            dead = true;
            if (process != null) {
                process.destroyForcibly();
            }
            try {
                if (channel != null) {
                    channel.close();
                }
            } catch (IOException ignored) {
                // already gone
            }
        }
    }
}
