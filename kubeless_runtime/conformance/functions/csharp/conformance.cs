// The conformance suite's function for C# runtimes (Kubeless style: a class with
// `public object handler(Event k8Event, Context k8Context)`); PROTOCOL.md (one folder up)
// says what each request must answer. The `deps` command uses the one DLL the bundle ships in
// lib/ (conformance.zip holds this file, project.csproj and that DLL; see make-bundle.sh).
using System;
using System.Collections.Generic;
using System.IO;
using System.Json;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading;
using Kubeless.Functions;

public class conformance
{
    private const string Greeting = "kubeless-conformance: hello from the function";
    private static readonly Regex Token = new Regex("^[0-9a-f]{6,64}$");

    public object handler(Event k8Event, Context k8Context)
    {
        var data = k8Event.Data;
        var command = data as JsonObject;
        if (command != null && command.ContainsKey("conformance")) return Run(command, k8Event, k8Context);
        if (data == null || (data is string && ((string)data).Length == 0)) return Greeting;
        if (data is string || data is byte[]) return data;
        return new Dictionary<string, object> { { "echo", data }, { "type", TypeName(data) } };
    }

    private static object Run(JsonObject data, Event k8Event, Context k8Context)
    {
        var value = data["conformance"];
        var name = value != null && value.JsonType == JsonType.String ? (string)value : Convert.ToString((object)value);
        switch (name)
        {
            case "where":
                return new Dictionary<string, object>
                {
                    { "file", Source() }, { "module", "conformance" },
                    { "install_volume", Environment.GetEnvironmentVariable("KUBELESS_INSTALL_VOLUME") ?? "" },
                };
            case "event":
                return new Dictionary<string, object>
                {
                    { "event", new Dictionary<string, object>
                        {
                            { "event-id", k8Event.EventId }, { "event-type", k8Event.EventType },
                            { "event-time", k8Event.EventTime }, { "event-namespace", k8Event.EventNamespace },
                        } },
                    { "type", TypeName(data) },
                };
            case "context":
                return new Dictionary<string, object>
                {
                    { "context", new Dictionary<string, object>
                        {
                            { "function-name", k8Context.FunctionName }, { "timeout", k8Context.Timeout },
                            { "runtime", k8Context.Runtime }, { "memory-limit", k8Context.MemoryLimit },
                        } },
                };
            case "raise":
                throw new InvalidOperationException("kubeless-conformance: a deliberate exception (the 500 case)");
            case "sleep":
                var seconds = Seconds(data, 1);
                Thread.Sleep(TimeSpan.FromSeconds(seconds));
                return new Dictionary<string, object> { { "slept", seconds } };
            case "late":
                var token = data.ContainsKey("token") && data["token"] != null ? (string)data["token"] : "";
                if (!Token.IsMatch(token)) throw new ArgumentException("token must be 6-64 lowercase hex digits");
                Mark(token, "start");
                Thread.Sleep(TimeSpan.FromSeconds(Seconds(data, 5)));
                Mark(token, "done");
                return "kubeless-conformance: finished after the deadline";
            case "deps":
                return new Dictionary<string, object>
                {
                    { "name", KubelessConformanceDep.Dependency.Name },
                    { "version", KubelessConformanceDep.Dependency.Version },
                    { "file", typeof(KubelessConformanceDep.Dependency).Assembly.Location },
                };
            default:
                throw new ArgumentException("unknown conformance command " + Convert.ToString((object)value));
        }
    }

    private static string Source([CallerFilePath] string path = "")
    {
        return Path.GetFullPath(path);
    }

    private static double Seconds(JsonObject data, double fallback)
    {
        return data.ContainsKey("seconds") && data["seconds"] != null ? (double)data["seconds"] : fallback;
    }

    private static void Mark(string token, string stage)
    {
        Console.WriteLine("kubeless-conformance " + stage + " " + token);
        Console.Out.Flush();
        try
        {
            File.WriteAllText("/tmp/kubeless-conformance-" + token + "." + stage, stage);
        }
        catch (IOException) { }
    }

    private static string TypeName(object value)
    {
        if (value == null) return "null";
        if (value is JsonObject) return "object";
        if (value is JsonArray) return "array";
        if (value is string) return "string";
        if (value is byte[]) return "bytes";
        if (value is bool) return "boolean";
        if (value is long || value is double) return "number";
        return value.GetType().FullName;
    }
}
