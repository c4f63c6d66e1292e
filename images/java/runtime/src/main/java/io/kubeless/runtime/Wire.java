package io.kubeless.runtime;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The frames between the server and a worker JVM over a Unix socket: a worker's hello, its
 * load result, then one request and one reply at a time. Strings and bodies are length-prefixed.
 */
public final class Wire {
    private Wire() {
    }

    /** One call: the parts of the HTTP request the function sees. */
    public record Request(String method, String path, String query, List<String[]> headers,
                          byte[] body) {
        public String header(String name) {
            for (String[] header : headers) {
                if (header[0].equalsIgnoreCase(name)) {
                    return header[1];
                }
            }
            return null;
        }
    }

    /** The function's answer. */
    public record Reply(int status, String contentType, byte[] body) {
        public static Reply text(int status, String text) {
            return new Reply(status, "text/plain; charset=utf-8",
                             text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * Streams over a socket channel. Why not {@code Channels.newInputStream}: its streams share
     * the channel's blocking lock, so a reader waiting for a reply would block the writer.
     */
    public static InputStream input(SocketChannel channel) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) <= 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] bytes, int offset, int length) throws IOException {
                return length == 0 ? 0 : channel.read(ByteBuffer.wrap(bytes, offset, length));
            }
        };
    }

    public static OutputStream output(SocketChannel channel) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }
        };
    }

    public static void writeString(DataOutputStream out, String value) throws IOException {
        writeBytes(out, value == null ? null : value.getBytes(StandardCharsets.UTF_8));
    }

    public static String readString(DataInputStream in) throws IOException {
        byte[] bytes = readBytes(in);
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    public static void writeBytes(DataOutputStream out, byte[] value) throws IOException {
        if (value == null) {
            out.writeInt(-1);
        } else {
            out.writeInt(value.length);
            out.write(value);
        }
    }

    public static byte[] readBytes(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0) {
            return null;
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }

    public static void writeRequest(DataOutputStream out, Request request) throws IOException {
        writeString(out, request.method());
        writeString(out, request.path());
        writeString(out, request.query());
        out.writeInt(request.headers().size());
        for (String[] header : request.headers()) {
            writeString(out, header[0]);
            writeString(out, header[1]);
        }
        writeBytes(out, request.body());
        out.flush();
    }

    public static Request readRequest(DataInputStream in) throws IOException {
        String method = readString(in);
        String path = readString(in);
        String query = readString(in);
        int count = in.readInt();
        List<String[]> headers = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            headers.add(new String[] {readString(in), readString(in)});
        }
        return new Request(method, path, query, headers, readBytes(in));
    }

    public static void writeReply(DataOutputStream out, Reply reply) throws IOException {
        out.writeInt(reply.status());
        writeString(out, reply.contentType());
        writeBytes(out, reply.body());
        out.flush();
    }

    public static Reply readReply(DataInputStream in) throws IOException {
        int status = in.readInt();
        return new Reply(status, readString(in), readBytes(in));
    }
}
