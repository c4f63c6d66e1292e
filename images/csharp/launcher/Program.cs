using System;
using System.IO;
using System.Linq;
using System.Json;
using System.Reflection;
using System.Text;
using Kubeless.Functions;

namespace Kubeless.Launcher
{
    /// <summary>
    /// The worker of the Kubeless C# runtime, compiled into one assembly with the function
    /// (the compilation phase). The runtime's server (python3 -m kubeless_runtime) starts it
    /// from KUBELESS_WORKER_COMMAND and speaks WORKER_PROTOCOL.md over the socket
    /// KUBELESS_WORKER_FD: `load`, then one `call` per request answered by `reply`, `error` or
    /// `bad-request`. HTTP, hard timeouts (the server kills this process), metrics and the log
    /// are the server's. `--check MODULE HANDLER` binds the handler and exits: the
    /// compilation phase runs it so a wrong --handler fails the deploy, not the first call.
    /// </summary>
    internal static class Program
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private static int Main(string[] args)
        {
            if (args.Length == 3 && args[0] == "--check") return Check(args[1], args[2]);
            var fd = Environment.GetEnvironmentVariable("KUBELESS_WORKER_FD");
            int number;
            if (!int.TryParse(fd, out number))
            {
                Console.Error.WriteLine("This worker is started by the runtime's server " +
                    "(KUBELESS_WORKER_COMMAND), which sets KUBELESS_WORKER_FD; run `python3 -m kubeless_runtime`.");
                return 2;
            }
            try
            {
                return Serve(new FrameChannel(new Mono.Unix.UnixStream(number, true)));
            }
            catch (IOException)
            {
                return 0; // the server closed the socket: it is stopping or has replaced us
            }
        }

        private static int Check(string module, string handler)
        {
            try
            {
                Function.Bind(Assembly.GetExecutingAssembly(), module, handler);
                return 0;
            }
            catch (LoadException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        }

        private static int Serve(FrameChannel channel)
        {
            var load = channel.Read();
            if (load == null || load.Type != "load") return 1;
            var module = Function.Text(load.Header, "module") ?? "";
            Function function;
            try
            {
                function = Function.Bind(Assembly.GetExecutingAssembly(), module,
                                         Function.Text(load.Header, "handler") ?? "");
            }
            catch (Exception e)
            {
                var message = e is LoadException ? e.Message
                    : "Loading the function failed: " + e.GetType().Name + ": " + e.Message +
                      " (a DLL the function references is missing from lib/?)";
                channel.Write(new JsonObject { { "type", "load-error" }, { "message", message } });
                return 1;
            }
            var given = load.Header.ContainsKey("context") ? load.Header["context"] as JsonObject : null;
            Func<string, string> field = name => given != null ? Function.Text(given, name) : null;
            var context = new Context(module, field("function-name"),
                                      Environment.GetEnvironmentVariable("FUNC_PORT") ?? "8080",
                                      field("timeout"), field("runtime"), field("memory-limit"));
            channel.Write(new JsonObject { { "type", "ready" }, { "pid", System.Diagnostics.Process.GetCurrentProcess().Id } });
            Frame frame;
            while ((frame = channel.Read()) != null)
            {
                if (frame.Type == "stop") return 0;
                if (frame.Type != "call") return 1;
                Answer(channel, function, context, frame);
            }
            return 0;
        }

        private static void Answer(FrameChannel channel, Function function, Context context, Frame call)
        {
            Event ev;
            try
            {
                ev = Function.MakeEvent(call.Header, call.Body);
            }
            catch (BadRequestException e)
            {
                channel.Write(new JsonObject { { "type", "bad-request" }, { "message", e.Message } });
                return;
            }
            JsonObject header;
            byte[] body;
            try
            {
                var result = function.Call(ev, context);
                try
                {
                    body = Reply(result, out header);
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException("the function's result cannot be sent: " + e.Message, e);
                }
            }
            catch (Exception e)
            {
                header = new JsonObject
                {
                    { "type", "error" }, { "message", e.GetType().Name + ": " + e.Message },
                    { "traceback", Traceback(e) },
                };
                body = null;
            }
            channel.Write(header, body);
        }

        /// <summary>The exception's text without the frames of the launcher calling the handler.</summary>
        internal static string Traceback(Exception e)
        {
            var lines = e.ToString().Split('\n').Where(line =>
            {
                var text = line.Trim();
                return text.Length > 0 && !text.StartsWith("--- End of stack trace", StringComparison.Ordinal)
                    && !text.StartsWith("at Kubeless.Launcher.", StringComparison.Ordinal)
                    && !text.StartsWith("at System.Reflection.", StringComparison.Ordinal)
                    && !text.StartsWith("at (wrapper managed-to-native) System.Reflection.", StringComparison.Ordinal);
            });
            return string.Join("\n", lines.Select(line => line.TrimEnd()));
        }

        /// <summary>
        /// A string is the body (text/plain, as ASP.NET Core sent it for Kubeless), a byte[] the
        /// raw body, null an empty one; anything else is sent as JSON.
        /// </summary>
        internal static byte[] Reply(object result, out JsonObject header)
        {
            string type;
            byte[] body;
            if (result == null) { type = null; body = null; }
            else if (result is string) { type = "text/plain; charset=utf-8"; body = Utf8.GetBytes((string)result); }
            else if (result is byte[]) { type = "application/octet-stream"; body = (byte[])result; }
            else { type = "application/json; charset=utf-8"; body = Utf8.GetBytes(Json.Write(result)); }
            var headers = new JsonArray();
            if (type != null) headers.Add(new JsonArray("Content-Type", type));
            header = new JsonObject { { "type", "reply" }, { "status", 200 }, { "headers", headers } };
            return body;
        }
    }
}
