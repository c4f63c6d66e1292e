using System;
using System.IO;
using System.Json;
using System.Text;

namespace Kubeless.Launcher
{
    /// <summary>One frame of WORKER_PROTOCOL.md: a JSON header and a raw body.</summary>
    internal sealed class Frame
    {
        public readonly JsonObject Header;
        public readonly byte[] Body;

        public Frame(JsonObject header, byte[] body)
        {
            Header = header;
            Body = body ?? new byte[0];
        }

        public string Type => Header.ContainsKey("type") ? (string)Header["type"] : null;
    }

    /// <summary>
    /// Reads and writes frames on the socket the server gives (KUBELESS_WORKER_FD). A frame is
    /// written with one call, so a function's own output never lands inside it.
    /// </summary>
    internal sealed class FrameChannel
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);
        private readonly Stream stream;

        public FrameChannel(Stream stream)
        {
            this.stream = stream;
        }

        /// <summary>The next frame, or null at end of file (the server is gone: stop).</summary>
        public Frame Read()
        {
            var prefix = new byte[8];
            if (!ReadExactly(prefix, true)) return null;
            var head = new byte[BigEndian(prefix, 0)];
            var body = new byte[BigEndian(prefix, 4)];
            ReadExactly(head, false);
            ReadExactly(body, false);
            var header = JsonValue.Parse(Utf8.GetString(head)) as JsonObject;
            if (header == null) throw new InvalidDataException("a frame header is not a JSON object");
            return new Frame(header, body);
        }

        public void Write(JsonObject header, byte[] body = null)
        {
            var head = Utf8.GetBytes(header.ToString());
            body = body ?? new byte[0];
            var frame = new byte[8 + head.Length + body.Length];
            PutBigEndian(frame, 0, head.Length);
            PutBigEndian(frame, 4, body.Length);
            Buffer.BlockCopy(head, 0, frame, 8, head.Length);
            Buffer.BlockCopy(body, 0, frame, 8 + head.Length, body.Length);
            stream.Write(frame, 0, frame.Length);
            stream.Flush();
        }

        private bool ReadExactly(byte[] buffer, bool endAllowed)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = stream.Read(buffer, done, buffer.Length - done);
                if (n <= 0)
                {
                    if (done == 0 && endAllowed) return false;
                    throw new EndOfStreamException("the server closed the socket inside a frame");
                }
                done += n;
            }
            return true;
        }

        private static int BigEndian(byte[] b, int at)
        {
            var value = (uint)(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]);
            if (value > int.MaxValue) throw new InvalidDataException("a frame is larger than 2 GiB");
            return (int)value;
        }

        private static void PutBigEndian(byte[] b, int at, int value)
        {
            b[at] = (byte)(value >> 24);
            b[at + 1] = (byte)(value >> 16);
            b[at + 2] = (byte)(value >> 8);
            b[at + 3] = (byte)value;
        }
    }
}
