// Native tests of images/csharp: the launcher (frames, JSON, binding, events, replies),
// Kubeless.Functions and kubeless-build's project check. Run by run.sh.
using System;
using System.Collections.Generic;
using System.IO;
using System.Json;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using Kubeless.Build;
using Kubeless.Functions;
using Kubeless.Launcher;
using Worker = Kubeless.Launcher.Program;

namespace Kubeless.Tests
{
    /// <summary>Runs every public static void method of Tests whose name starts with Test.</summary>
    internal static class Runner
    {
        private static int Main()
        {
            int passed = 0, failed = 0;
            foreach (var test in typeof(Tests).GetMethods(BindingFlags.Public | BindingFlags.Static)
                         .Where(m => m.Name.StartsWith("Test", StringComparison.Ordinal)).OrderBy(m => m.Name))
            {
                try
                {
                    test.Invoke(null, null);
                    passed++;
                }
                catch (TargetInvocationException e)
                {
                    failed++;
                    Console.WriteLine("FAIL " + test.Name + ": " + e.InnerException);
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }
    }

    internal static class Check
    {
        public static void Equal<T>(T expected, T actual, string what = "")
        {
            if (!Equals(expected, actual))
                throw new Exception(what + " expected <" + expected + "> but got <" + actual + ">");
        }

        public static void Contains(string part, string text)
        {
            if (text == null || !text.Contains(part))
                throw new Exception("expected <" + part + "> in <" + text + ">");
        }

        public static TException Throws<TException>(Action action) where TException : Exception
        {
            try
            {
                action();
            }
            catch (TException e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new Exception("expected " + typeof(TException).Name + " but got " + e);
            }
            throw new Exception("expected " + typeof(TException).Name + " but nothing was thrown");
        }
    }

    public static class Tests
    {
        private enum Colour { Red = 1, Blue = 4 }

        public class Node
        {
            public Node Next;
        }

        public static void TestJsonWritesObjectsAsAspNetCoreDidForKubeless()
        {
            var value = new
            {
                Name = "w\u00f6rld", URLValue = 1, ID = 2L, Ratio = 2.5, Flag = true, Nothing = (object)null,
                Colour = Colour.Blue, When = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
                Bytes = new byte[] { 1, 2, 3 }, List = new List<object> { 1, "two", null },
                Map = new Dictionary<string, object> { { "KeepCase", 1 } },
            };
            Check.Equal("{\"name\":\"w\u00f6rld\",\"urlValue\":1,\"id\":2,\"ratio\":2.5,\"flag\":true," +
                        "\"nothing\":null,\"colour\":4,\"when\":\"2026-01-02T03:04:05.0000000Z\"," +
                        "\"bytes\":\"AQID\",\"list\":[1,\"two\",null],\"map\":{\"KeepCase\":1}}", Json.Write(value));
        }

        public static void TestJsonEscapesControlCharactersAndQuotes()
        {
            Check.Equal("\"a\\\"b\\\\c\\n\\t\\u0001\"", Json.Write("a\"b\\c\n\t\u0001"));
        }

        public static void TestJsonRefusesWhatItCannotCarry()
        {
            Check.Contains("JSON cannot carry", Check.Throws<InvalidOperationException>(() => Json.Write(double.NaN)).Message);
            var node = new Node();
            node.Next = node;
            Check.Contains("reference cycle", Check.Throws<InvalidOperationException>(() => Json.Write(node)).Message);
        }

        public static void TestCamelCaseMatchesNewtonsoft()
        {
            var cases = new Dictionary<string, string>
            {
                { "Name", "name" }, { "URLValue", "urlValue" }, { "ID", "id" }, { "IsCIA", "isCIA" },
                { "already", "already" }, { "X", "x" }, { "", "" },
            };
            foreach (var pair in cases) Check.Equal(pair.Value, Json.CamelCase(pair.Key), pair.Key);
        }

        public static void TestParseDataGivesClrScalarsAndJsonContainers()
        {
            Check.Equal(null, Json.ParseData("  "));
            Check.Equal((object)20L, Json.ParseData("20"));
            Check.Equal((object)2.5, Json.ParseData("2.5"));
            Check.Equal((object)"x", Json.ParseData("\"x\""));
            Check.Equal((object)true, Json.ParseData("true"));
            var data = Json.ParseData("{\"a\": [1, {\"b\": null}]}");
            Check.Equal(true, data is JsonObject);
            Check.Equal("{\"a\":[1,{\"b\":null}]}", Json.Write(data).Replace(" ", ""));
        }

        public static void TestParseDataRefusesDeepAndMalformedJson()
        {
            var deep = new string('[', Json.MaxDepth + 1) + new string(']', Json.MaxDepth + 1);
            Check.Contains("levels deep", Check.Throws<BadRequestException>(() => Json.ParseData(deep)).Message);
            Check.Equal(Json.MaxDepth, Json.Depth(new string('[', Json.MaxDepth) + "\"[[[\"" + new string(']', Json.MaxDepth)));
            Check.Contains("Malformed JSON", Check.Throws<BadRequestException>(() => Json.ParseData("{\"a\":")).Message);
        }

        public static void TestFramesRoundTripAndEndCleanly()
        {
            var written = new MemoryStream();
            new FrameChannel(written).Write(new JsonObject { { "type", "reply" } }, new byte[] { 0, 255 });
            var reader = new FrameChannel(new MemoryStream(written.ToArray()));
            var frame = reader.Read();
            Check.Equal("reply", frame.Type);
            Check.Equal("0,255", string.Join(",", frame.Body));
            Check.Equal(null, reader.Read());
            var truncated = written.ToArray().Take((int)written.Length - 1).ToArray();
            Check.Throws<EndOfStreamException>(() => new FrameChannel(new MemoryStream(truncated)).Read());
        }

        private static JsonObject Call(string method, string path, string query, params string[] headers)
        {
            var list = new JsonArray();
            for (var i = 0; i < headers.Length; i += 2) list.Add(new JsonArray(headers[i], headers[i + 1]));
            return new JsonObject
            {
                { "type", "call" }, { "method", method }, { "path", path }, { "query", query },
                { "version", "1.1" }, { "scheme", "http" }, { "headers", list }, { "remote_addr", "127.0.0.1" },
                { "remote_port", 5000 }, { "server_name", "localhost" }, { "server_port", 8080 },
                { "event", new JsonObject { { "event-id", "id1" }, { "event-type", "t" }, { "event-time", null }, { "event-namespace", "ns" } } },
            };
        }

        public static void TestEventCarriesKubelessFieldsAndTheRequest()
        {
            var call = Call("POST", "/a/b", "x=1&y=a+b&x=2", "host", "example:8080", "x-multi", "1", "x-multi", "2",
                            "content-type", "application/json; charset=utf-8");
            var ev = Function.MakeEvent(call, Encoding.UTF8.GetBytes("{\"k\": \"v\"}"));
            Check.Equal("id1", ev.EventId);
            Check.Equal("t", ev.EventType);
            Check.Equal(null, ev.EventTime);
            Check.Equal("ns", ev.EventNamespace);
            Check.Equal("v", (string)((JsonObject)ev.Data)["k"]);
            var request = ev.Extensions.Request;
            Check.Equal(request, ev.Extensions.HttpRequest);
            Check.Equal("POST", request.Method);
            Check.Equal("/a/b", request.Path);
            Check.Equal("?x=1&y=a+b&x=2", request.QueryString);
            Check.Equal("1,2", request.Query["x"]);
            Check.Equal("a b", request.Query["Y"]);
            Check.Equal("1,2", request.Headers["X-Multi"]);
            Check.Equal("example:8080", request.Host);
            Check.Equal("{\"k\": \"v\"}", new StreamReader(request.Body).ReadToEnd());
            Check.Equal(5000, request.RemotePort);
        }

        public static void TestBodiesThatAreNotJsonAreTextOrBytes()
        {
            Check.Equal((object)"", Function.MakeEvent(Call("GET", "/", ""), new byte[0]).Data);
            Check.Equal((object)"t\u00e9", Function.MakeEvent(Call("POST", "/", "", "content-type", "text/plain"), Encoding.UTF8.GetBytes("t\u00e9")).Data);
            var binary = Function.MakeEvent(Call("POST", "/", "", "content-type", "application/octet-stream"), new byte[] { 0xff, 0xfe }).Data;
            Check.Equal("255,254", string.Join(",", (byte[])binary));
            Check.Equal(null, Function.MakeEvent(Call("POST", "/", "", "content-type", "application/json"), new byte[0]).Data);
            Check.Throws<BadRequestException>(() => Function.MakeEvent(Call("POST", "/", "", "content-type", "application/json"), new byte[] { 0xff }));
        }

        public static void TestBindFindsInstanceAndStaticHandlers()
        {
            var assembly = Assembly.GetExecutingAssembly();
            var context = new Context("m", "f", "8080", "3", "mono6.8", "128Mi");
            var ev = new Event("d", null, null, null, null, null);
            Check.Equal((object)"instance d", Function.Bind(assembly, "TestFunction", "handler").Call(ev, context));
            Check.Equal((object)"static f", Function.Bind(assembly, "TestFunction", "Static").Call(ev, context));
            Check.Equal((object)"async 3", Function.Bind(assembly, "TestFunction", "Later").Call(ev, context));
            Check.Equal(null, Function.Bind(assembly, "TestFunction", "Nothing").Call(ev, context));
            var raised = Check.Throws<InvalidOperationException>(() => Function.Bind(assembly, "TestFunction", "Fails").Call(ev, context));
            Check.Contains("TestFunction.Fails", Worker.Traceback(raised));
            Check.Equal(false, Worker.Traceback(raised).Contains("System.Reflection"));
        }

        public static void TestBindErrorsNameTheFix()
        {
            var assembly = Assembly.GetExecutingAssembly();
            Check.Contains("no class \"Missing\"", Check.Throws<LoadException>(() => Function.Bind(assembly, "Missing", "handler")).Message);
            Check.Contains("has no public method \"nope\"", Check.Throws<LoadException>(() => Function.Bind(assembly, "TestFunction", "nope")).Message);
            Check.Contains("takes (System.String)", Check.Throws<LoadException>(() => Function.Bind(assembly, "TestFunction", "WrongShape")).Message);
            Check.Contains("no public constructor", Check.Throws<LoadException>(() => Function.Bind(assembly, "NoDefaultConstructor", "handler")).Message);
            Check.Contains("Several classes are named \"Twin\": First.Twin, Second.Twin", Check.Throws<LoadException>(() => Function.Bind(assembly, "Twin", "handler")).Message);
            Check.Equal((object)"second", Function.Bind(assembly, "Second.Twin", "handler").Call(new Event(), new Context()));
        }

        public static void TestRepliesByResultType()
        {
            JsonObject header;
            Check.Equal("hi", Encoding.UTF8.GetString(Worker.Reply("hi", out header)));
            Check.Contains("text/plain", header.ToString());
            Check.Equal(null, Worker.Reply(null, out header));
            Check.Equal("[]", header["headers"].ToString());
            Check.Equal("{\"a\":1}", Encoding.UTF8.GetString(Worker.Reply(new { A = 1 }, out header)));
            Check.Contains("application/json", header.ToString());
            Check.Equal(3, Worker.Reply(new byte[] { 1, 2, 3 }, out header).Length);
            Check.Contains("application/octet-stream", header.ToString());
        }

        private static string Project(string csproj, params string[] libraries)
        {
            var volume = Path.Combine(Path.GetTempPath(), "kubeless-tests-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path.Combine(volume, "lib"));
            foreach (var library in libraries) File.WriteAllText(Path.Combine(volume, "lib", library), "");
            File.WriteAllText(Path.Combine(volume, "project.csproj"), csproj);
            return volume;
        }

        private const string Packages = "<Project Sdk=\"Microsoft.NET.Sdk\"><ItemGroup>" +
            "<PackageReference Include=\"Kubeless.Functions\" Version=\"0.1.1\" />" +
            "<PackageReference Include=\"YamlDotNet\"><Version>4.3.1</Version></PackageReference>" +
            "</ItemGroup></Project>";

        public static void TestProjectRefusesPackagesItCannotRestore()
        {
            var volume = Project(Packages);
            var error = Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Install());
            Check.Contains("NuGet package YamlDotNet 4.3.1, and no NuGet source is named", error.Message);
            Check.Contains("under lib/", error.Message);
            Check.Contains("RestoreSources", error.Message);
            Check.Equal(false, error.Message.Contains("Kubeless.Functions 0.1.1,"));
            error = Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Verify());
            Check.Contains("no NuGet source is named", error.Message);
        }

        public static void TestProjectPackageSatisfiedByAShippedDll()
        {
            var volume = Project(Packages, "YamlDotNet.dll");
            var project = Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume);
            project.Install();
            Check.Equal("YamlDotNet.dll", Path.GetFileName(project.Libraries.Single()));
        }

        public static void TestProjectHintPathMustExistAndInvalidXmlIsNamed()
        {
            var hint = "<Project><ItemGroup><Reference Include=\"Other\"><HintPath>deps\\Other.dll</HintPath></Reference></ItemGroup></Project>";
            var volume = Project(hint);
            Check.Contains("deps/Other.dll", Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Install()).Message);
            Directory.CreateDirectory(Path.Combine(volume, "deps"));
            File.WriteAllText(Path.Combine(volume, "deps", "Other.dll"), "");
            var project = Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume);
            project.Verify();
            Check.Equal(Path.Combine(volume, "deps", "Other.dll"), project.Libraries.Single());
            var broken = Project("<Project><ItemGroup>");
            Check.Contains("is not valid XML", Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(broken, "project.csproj"), broken)).Message);
        }

        public static void TestVersionRangesPickAsNuGetDoes()
        {
            var available = new[] { "1.0.0", "1.2.0", "1.10.0", "2.0.0-beta", "2.0.0", "3.1.0" }.Select(NuGetVersion.Parse).ToList();
            var cases = new Dictionary<string, string>
            {
                { "1.1", "1.2.0" }, { "[1.2.0]", "1.2.0" }, { "[1.0,2.0)", "1.0.0" }, { "(1.0,2.0)", "1.2.0" },
                { "1.*", "1.10.0" }, { "(,1.5]", "1.0.0" }, { "2.0.0-alpha", "2.0.0-beta" }, { "", "1.0.0" },
            };
            foreach (var pair in cases)
                Check.Equal(pair.Value, VersionRange.Parse(pair.Key).Pick(available).Text, pair.Key);
            Check.Equal(null, VersionRange.Parse("[4.0]").Pick(available));
            Check.Contains("not a NuGet version", Check.Throws<PhaseException>(() => VersionRange.Parse("one")).Message);
            Check.Equal("1.0.0", NuGetVersion.Parse("1.0").Normalized);
            Check.Equal("1.2.3.4", NuGetVersion.Parse("1.2.3.4").Normalized);
            Check.Equal("1.0.0-beta", NuGetVersion.Parse("1.0.0-Beta+build").Normalized);
        }

        internal static byte[] Package(string id, string version, string dependencies, params string[] libraries)
        {
            var buffer = new MemoryStream();
            using (var archive = new System.IO.Compression.ZipArchive(buffer, System.IO.Compression.ZipArchiveMode.Create, true))
            {
                using (var spec = new StreamWriter(archive.CreateEntry(id + ".nuspec").Open()))
                    spec.Write("<?xml version=\"1.0\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">" +
                               "<metadata><id>" + id + "</id><version>" + version + "</version><dependencies>" + dependencies +
                               "</dependencies></metadata></package>");
                foreach (var library in libraries)
                    using (var dll = new StreamWriter(archive.CreateEntry(library).Open())) dll.Write(library);
            }
            return buffer.ToArray();
        }

        public static void TestNupkgChoosesTheBestNetFrameworkBuildAndItsDependencies()
        {
            var package = Nupkg.Read(Package("A", "1.0.0",
                "<group targetFramework=\".NETStandard2.0\"><dependency id=\"Wrong\" version=\"1.0\" /></group>" +
                "<group targetFramework=\".NETFramework4.5\"><dependency id=\"B\" version=\"[2.0]\" /></group>",
                "lib/netstandard2.0/A.dll", "lib/net45/A.dll", "lib/net40/A.dll"));
            Check.Equal("A", package.Id);
            Check.Equal("net45", package.Framework);
            Check.Equal("B", package.Dependencies.Single().Key);
            var only = Nupkg.Read(Package("C", "1.0.0", "", "lib/netstandard2.0/C.dll"));
            Check.Equal(false, only.HasAssemblies);
        }

        public static void TestRestoreFromAFolderSourceWithDependencies()
        {
            var volume = Project("<Project><PropertyGroup><RestoreSources>feed</RestoreSources></PropertyGroup><ItemGroup>" +
                                 "<PackageReference Include=\"A\" Version=\"1.0\" /></ItemGroup></Project>");
            Directory.CreateDirectory(Path.Combine(volume, "feed", "b"));
            File.WriteAllBytes(Path.Combine(volume, "feed", "A.1.0.0.nupkg"),
                Package("A", "1.0.0", "<dependency id=\"B\" version=\"2.0\" />", "lib/net45/A.dll"));
            File.WriteAllBytes(Path.Combine(volume, "feed", "b", "B.2.1.0.nupkg"), Package("B", "2.1.0", "", "lib/net46/B.dll"));
            Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Install();
            Check.Equal(true, File.Exists(Path.Combine(volume, "packages", "a", "1.0.0", "A.dll")));
            Check.Equal(true, File.Exists(Path.Combine(volume, "packages", "b", "2.1.0", "B.dll")));
            var project = Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume);
            project.Verify();
            Check.Equal("A.dll,B.dll", string.Join(",", project.Libraries.Select(Path.GetFileName)));
        }

        public static void TestRestoreFailuresNameTheSourcesAndTheFix()
        {
            var volume = Project("<Project><ItemGroup><PackageReference Include=\"A\" Version=\"[9.0]\" />" +
                                 "<PackageReference Include=\"C\" Version=\"1.0\" /></ItemGroup></Project>");
            File.WriteAllText(Path.Combine(volume, "nuget.config"),
                "<configuration><packageSources><clear /><add key=\"local\" value=\"feed\" /></packageSources></configuration>");
            Directory.CreateDirectory(Path.Combine(volume, "feed"));
            File.WriteAllBytes(Path.Combine(volume, "feed", "A.1.0.0.nupkg"), Package("A", "1.0.0", "", "lib/net45/A.dll"));
            var error = Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Install());
            Check.Contains("A [9.0] (wanted by project.csproj) is in none of the sources", error.Message);
            Check.Contains("feed (has 1.0.0)", error.Message);
            Check.Contains("was not restored", Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Verify()).Message);
            File.WriteAllBytes(Path.Combine(volume, "feed", "A.9.0.0.nupkg"), Package("A", "9.0.0", "", "lib/net45/A.dll"));
            File.WriteAllBytes(Path.Combine(volume, "feed", "C.1.0.0.nupkg"), Package("C", "1.0.0", "", "lib/netstandard2.0/C.dll"));
            error = Check.Throws<PhaseException>(() => Kubeless.Build.Project.Read(Path.Combine(volume, "project.csproj"), volume).Install());
            Check.Contains("C 1.0.0 has assemblies only for netstandard2.0", error.Message);
        }
    }
}

public class TestFunction
{
    public object handler(Event k8Event, Context k8Context) => "instance " + k8Event.Data;

    public static string Static(Event k8Event, Context k8Context) => "static " + k8Context.FunctionName;

    public async Task<object> Later(Event k8Event, Context k8Context)
    {
        await Task.Delay(1);
        return "async " + k8Context.Timeout;
    }

    public Task Nothing(Event k8Event, Context k8Context) => Task.Delay(1);

    public object Fails(Event k8Event, Context k8Context)
    {
        throw new InvalidOperationException("failed on purpose");
    }

    public object WrongShape(string text) => text;
}

public class NoDefaultConstructor
{
    public NoDefaultConstructor(int value) { }

    public object handler(Event k8Event, Context k8Context) => "never";
}

namespace First
{
    public class Twin
    {
        public object handler(Event k8Event, Context k8Context) => "first";
    }
}

namespace Second
{
    public class Twin
    {
        public object handler(Event k8Event, Context k8Context) => "second";
    }
}
