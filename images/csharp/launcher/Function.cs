using System;
using System.Collections.Specialized;
using System.Json;
using System.Linq;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Threading.Tasks;
using Kubeless.Functions;

namespace Kubeless.Launcher
{
    /// <summary>The function could not be bound; the message is for a person (what, where, fix).</summary>
    internal sealed class LoadException : Exception
    {
        public LoadException(string message) : base(message) { }
    }

    /// <summary>
    /// The handler, found by name in this assembly (the function was compiled into it), called
    /// with Kubeless's Event and Context. Like Kubeless, an instance method gets a new instance
    /// of its class per call; a static one is called as it is.
    /// </summary>
    internal sealed class Function
    {
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        private static readonly string[] EventFields = { "event-id", "event-type", "event-time", "event-namespace" };
        private const string Signature = "public object {0}(Event k8Event, Context k8Context)";

        private readonly Type type;
        private readonly MethodInfo method;

        private Function(Type type, MethodInfo method)
        {
            this.type = type;
            this.method = method;
        }

        public static Function Bind(Assembly assembly, string module, string handler)
        {
            var classes = assembly.GetTypes()
                .Where(t => t.IsClass && t.Namespace != typeof(Function).Namespace && !t.IsNested
                            && !t.Name.StartsWith("<", StringComparison.Ordinal))
                .ToList();
            var named = classes.Where(t => t.Name == module).ToList();
            var type = classes.FirstOrDefault(t => t.FullName == module);
            if (type == null && named.Count > 1)
                throw new LoadException(string.Format(
                    "Several classes are named {0}: {1}. Deploy with --handler NAMESPACE.{0}.METHOD " +
                    "naming one by its full name.", Quote(module), Names(named.Select(t => t.FullName))));
            type = type ?? named.FirstOrDefault();
            if (type == null)
                throw new LoadException(string.Format(
                    "The function has no class {0} (MOD_NAME, the part of --handler before the dot); " +
                    "its sources define: {1}. Deploy with --handler CLASS.METHOD naming the class " +
                    "that holds the handler.", Quote(module), Names(classes.Select(t => t.FullName))));
            var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
                .Where(m => m.Name == handler).ToList();
            if (methods.Count == 0)
                throw new LoadException(string.Format(
                    "Class {0} has no public method {1} (FUNC_HANDLER, the part of --handler after the " +
                    "dot); its public methods: {2}. Declare {3}, or deploy with --handler {0}.METHOD.",
                    type.FullName, Quote(handler),
                    Names(type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                        .Where(m => !m.IsSpecialName).Select(m => m.Name).Distinct()),
                    string.Format(Signature, handler)));
            var method = methods.FirstOrDefault(m =>
            {
                var p = m.GetParameters();
                return p.Length == 2 && p[0].ParameterType == typeof(Event) && p[1].ParameterType == typeof(Context);
            });
            if (method == null)
                throw new LoadException(string.Format(
                    "{0}.{1} takes ({2}), but the runtime calls it with (Kubeless.Functions.Event, " +
                    "Kubeless.Functions.Context). Declare {3} (add `using Kubeless.Functions;`).",
                    type.FullName, handler,
                    string.Join(", ", methods[0].GetParameters().Select(p => p.ParameterType.FullName)),
                    string.Format(Signature, handler)));
            if (!method.IsStatic && (type.IsAbstract || type.GetConstructor(Type.EmptyTypes) == null))
                throw new LoadException(string.Format(
                    "{0}.{1} is an instance method, so the runtime creates a {0} per call, but {0} has " +
                    "no public constructor without parameters. Add one, or make {1} static.",
                    type.FullName, handler));
            return new Function(type, method);
        }

        /// <summary>Calls the handler; a Task is awaited. Exceptions are the function's own.</summary>
        public object Call(Event ev, Context context)
        {
            object result;
            try
            {
                var target = method.IsStatic ? null : Activator.CreateInstance(type);
                result = method.Invoke(target, new object[] { ev, context });
            }
            catch (TargetInvocationException e) when (e.InnerException != null)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
            var task = result as Task;
            if (task == null) return result;
            task.GetAwaiter().GetResult();
            var taskType = task.GetType();
            if (!taskType.IsGenericType) return null;
            var value = taskType.GetProperty("Result").GetValue(task, null);
            return value != null && value.GetType().FullName == "System.Threading.Tasks.VoidTaskResult" ? null : value;
        }

        /// <summary>The event of a call frame, as Kubeless's .NET runtime built it.</summary>
        public static Event MakeEvent(JsonObject call, byte[] body)
        {
            var headers = new NameValueCollection(StringComparer.OrdinalIgnoreCase);
            if (call.ContainsKey("headers"))
                foreach (JsonValue pair in (JsonArray)call["headers"])
                    headers.Add((string)pair[0], (string)pair[1]);
            var host = headers["Host"] ?? Text(call, "server_name") + ":" + Text(call, "server_port");
            var port = 0;
            int.TryParse(Text(call, "remote_port"), out port);
            var request = new Request(Text(call, "method"), Text(call, "scheme") ?? "http", host,
                                      Text(call, "path"), Text(call, "query"), headers, body,
                                      "HTTP/" + (Text(call, "version") ?? "1.1"),
                                      Text(call, "remote_addr"), port);
            var fields = call.ContainsKey("event") ? call["event"] as JsonObject : null;
            var values = EventFields.Select(name => fields != null ? Text(fields, name) : null).ToArray();
            return new Event(Data(request.ContentType, body), values[0], values[1], values[2], values[3],
                             new Extensions(request));
        }

        private static object Data(string contentType, byte[] body)
        {
            string text = null;
            try
            {
                text = StrictUtf8.GetString(body);
            }
            catch (ArgumentException)
            {
                if (IsJson(contentType))
                    throw new BadRequestException("The body says Content-Type: " + contentType +
                                                  " but is not UTF-8 text; send valid JSON.");
                return body;
            }
            return IsJson(contentType) ? Json.ParseData(text) : text;
        }

        private static bool IsJson(string contentType)
        {
            if (contentType == null) return false;
            var semicolon = contentType.IndexOf(';');
            var media = (semicolon < 0 ? contentType : contentType.Substring(0, semicolon)).Trim();
            return string.Equals(media, "application/json", StringComparison.OrdinalIgnoreCase);
        }

        public static string Text(JsonObject o, string key)
        {
            if (!o.ContainsKey(key) || o[key] == null) return null;
            var value = o[key];
            return value.JsonType == JsonType.String ? (string)value : value.ToString();
        }

        private static string Quote(string s) => "\"" + s + "\"";

        private static string Names(System.Collections.Generic.IEnumerable<string> names)
        {
            var list = names.OrderBy(n => n, StringComparer.Ordinal).Take(20).ToList();
            return list.Count == 0 ? "none" : string.Join(", ", list);
        }
    }
}
