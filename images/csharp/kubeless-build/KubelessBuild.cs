using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Kubeless.Build
{
    /// <summary>A phase failed; the message is for a person and goes to the termination log.</summary>
    internal sealed class PhaseException : Exception
    {
        public PhaseException(string message) : base(message) { }
    }

    /// <summary>
    /// The installation and compilation phases of the C# runtime (the init containers).
    ///   install  satisfies the PackageReferences of the function's project.csproj
    ///            ($KUBELESS_DEPS_FILE): Kubeless.Functions is built in, lib/NAME.dll ships
    ///            NAME, anything else is restored from the NuGet sources the function names
    ///            (see Project) into $KUBELESS_INSTALL_VOLUME/packages;
    ///   compile  compiles the function's .cs files and the launcher into
    ///            $KUBELESS_INSTALL_VOLUME/kubeless-function.exe with Mono's mcs, referencing
    ///            those DLLs, then binds MOD_NAME.FUNC_HANDLER once so a wrong handler fails here.
    /// Errors go to stderr and to /dev/termination-log (KUBELESS_TERMINATION_LOG).
    /// </summary>
    internal static class Program
    {
        public const string Output = "kubeless-function.exe";
        private const string Home = "/opt/kubeless";
        private const int TerminationMessageMax = 4000; // Kubernetes keeps at most 4096 bytes
        private static readonly string[] Framework =
        {
            "System.dll", "System.Core.dll", "System.Xml.dll", "System.Xml.Linq.dll", "System.Json.dll",
            "System.Net.Http.dll", "System.Numerics.dll", "Microsoft.CSharp.dll", "Mono.Posix.dll",
        };

        private static int Main(string[] args)
        {
            var volume = Env("KUBELESS_INSTALL_VOLUME", "/kubeless");
            var log = Env("KUBELESS_TERMINATION_LOG", "/dev/termination-log");
            try
            {
                var project = Project.Read(Env("KUBELESS_DEPS_FILE", Path.Combine(volume, "project.csproj")), volume);
                switch (args.Length == 1 ? args[0] : "")
                {
                    case "install": project.Install(); return 0;
                    case "compile": Compile(volume, project); return 0;
                    default:
                        Console.Error.WriteLine("usage: kubeless-build install|compile");
                        return 2;
                }
            }
            catch (PhaseException e)
            {
                Console.Error.WriteLine(e.Message);
                try
                {
                    var text = e.Message.Length > TerminationMessageMax
                        ? e.Message.Substring(e.Message.Length - TerminationMessageMax) : e.Message;
                    File.WriteAllText(log, text + "\n");
                }
                catch (Exception) { } // no termination log outside Kubernetes or a deploy
                return 1;
            }
        }

        private static string Env(string name, string fallback)
        {
            var value = Environment.GetEnvironmentVariable(name);
            return string.IsNullOrEmpty(value) ? fallback : value;
        }

        private static void Compile(string volume, Project project)
        {
            project.Verify();
            var sources = Directory.EnumerateFiles(volume, "*.cs", SearchOption.AllDirectories)
                .Select(path => path.Substring(volume.Length).TrimStart('/'))
                .Where(path => !path.Split('/').Any(part => part == "obj" || part == "bin" || part.StartsWith(".")))
                .OrderBy(path => path, StringComparer.Ordinal)
                .ToList();
            if (sources.Count == 0)
                throw new PhaseException("There is no .cs file in " + volume + " to compile. Deploy the " +
                    "function with --from-file FILE.cs (or a zip holding .cs files).");
            var launcher = Directory.GetFiles(Path.Combine(Home, "launcher"), "*.cs").OrderBy(p => p, StringComparer.Ordinal);
            var references = Framework.Concat(new[] { Path.Combine(Home, "lib", "Kubeless.Functions.dll") })
                .Concat(project.Libraries);
            var arguments = new List<string>
            {
                "-target:exe", "-debug", "-optimize+", "-main:Kubeless.Launcher.Program",
                "-out:" + Path.Combine(volume, Output),
            };
            arguments.AddRange(references.Select(r => "-r:" + r));
            arguments.AddRange(launcher);
            arguments.AddRange(sources.Select(s => Path.Combine(volume, s)));
            Console.WriteLine("Compiling " + string.Join(", ", sources) + " with Mono's C# compiler" +
                              (project.Libraries.Count > 0 ? " (references: " + string.Join(", ", project.Libraries.Select(Path.GetFileName)) + ")" : ""));
            string output;
            var code = Run("mcs", arguments, out output);
            var prefix = volume.TrimEnd('/') + "/";
            output = string.Join("\n", output.Split('\n').Select(line => line.StartsWith(prefix, StringComparison.Ordinal) ? line.Substring(prefix.Length) : line));
            Console.Write(output);
            if (code != 0)
            {
                var errors = output.Split('\n').Where(line => line.Contains(": error ")).ToList();
                string version;
                Run("mcs", new[] { "--version" }, out version);
                throw new PhaseException(string.Join("\n", errors.Count > 0 ? errors : new List<string> { output.Trim() }) +
                    "\nThis runtime compiles C# up to 7.2 with " + version.Trim() + " (Mono, not the .NET SDK): " +
                    "C# 8 and later syntax (switch expressions, `using var`, `??=`, nullable reference " +
                    "types, ranges, default interface members) does not compile here.");
            }
            WriteProbingConfig(volume, project.Libraries);
            var module = Env("MOD_NAME", "");
            var handler = Env("FUNC_HANDLER", "");
            if (module.Length > 0 && handler.Length > 0)
            {
                string check;
                if (Run("mono", new[] { Path.Combine(volume, Output), "--check", module, handler }, out check) != 0)
                    throw new PhaseException(check.Trim());
            }
            Console.WriteLine("Compiled " + Path.Combine(volume, Output));
        }

        /// <summary>
        /// kubeless-function.exe.config: the standard .NET way to tell the runtime where the
        /// referenced DLLs are (folders under the function's own, lib/ always).
        /// </summary>
        private static void WriteProbingConfig(string volume, IEnumerable<string> libraries)
        {
            var root = volume.TrimEnd('/') + "/";
            var folders = new[] { "lib" }.Concat(libraries
                    .Select(l => Path.GetDirectoryName(l).TrimEnd('/') + "/")
                    .Where(d => d.StartsWith(root, StringComparison.Ordinal) && d != root)
                    .Select(d => d.Substring(root.Length).TrimEnd('/')))
                .Distinct().ToList();
            XNamespace binding = "urn:schemas-microsoft-com:asm.v1";
            new XDocument(new XElement("configuration", new XElement("runtime",
                    new XElement(binding + "assemblyBinding",
                        new XElement(binding + "probing", new XAttribute("privatePath", string.Join(";", folders)))))))
                .Save(Path.Combine(volume, Output + ".config"));
        }

        internal static int Run(string program, IEnumerable<string> arguments, out string output)
        {
            var start = new ProcessStartInfo(program, string.Join(" ", arguments.Select(Quote)))
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using (var process = Process.Start(start))
            {
                var text = new StringBuilder();
                process.OutputDataReceived += (s, e) => { if (e.Data != null) lock (text) text.Append(e.Data).Append('\n'); };
                process.ErrorDataReceived += (s, e) => { if (e.Data != null) lock (text) text.Append(e.Data).Append('\n'); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                process.WaitForExit();
                output = text.ToString();
                return process.ExitCode;
            }
        }

        private static string Quote(string argument)
        {
            return "\"" + argument.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }
    }

    /// <summary>
    /// The function's .csproj, read for what it asks of a runtime without the .NET SDK:
    /// Kubeless.Functions is built in; any other PackageReference is a DLL shipped as
    /// lib/NAME.dll or a package restored from a NuGet source (a v3 feed or a folder of
    /// .nupkg files) named by RestoreSources (the project's property, or --env) or a
    /// nuget.config in the bundle; a Reference's HintPath names a DLL in the bundle.
    /// </summary>
    internal sealed class Project
    {
        private const string BuiltIn = "Kubeless.Functions";
        private static readonly string[] ConfigNames = { "nuget.config", "NuGet.config", "NuGet.Config" };
        private readonly string path;
        private readonly string volume;
        private readonly List<KeyValuePair<string, string>> packages = new List<KeyValuePair<string, string>>();
        private readonly List<string> hintPaths = new List<string>();
        private readonly List<string> restoreSources = new List<string>();
        public readonly List<string> Libraries = new List<string>();

        private Project(string path, string volume)
        {
            this.path = path;
            this.volume = volume;
        }

        private string Packages => Path.Combine(volume, "packages");

        public static Project Read(string path, string volume)
        {
            var project = new Project(path, volume);
            var lib = Path.Combine(volume, "lib");
            if (Directory.Exists(lib))
                project.Libraries.AddRange(Directory.GetFiles(lib, "*.dll").OrderBy(p => p, StringComparer.Ordinal));
            if (!File.Exists(path) || new FileInfo(path).Length == 0) return project;
            var document = Load(path, "Fix the project file (the one `dotnet new library` writes is fine) or deploy without --dependencies.");
            foreach (var element in document.Descendants())
            {
                var name = element.Name.LocalName;
                if (name == "RestoreSources") project.restoreSources.AddRange(Split(element.Value));
                var include = (string)element.Attribute("Include") ?? (string)element.Attribute("Update");
                if (include == null) continue;
                if (name == "PackageReference")
                {
                    var version = (string)element.Attribute("Version") ??
                                  element.Elements().Where(e => e.Name.LocalName == "Version").Select(e => e.Value).FirstOrDefault();
                    project.packages.Add(new KeyValuePair<string, string>(include.Trim(), version ?? ""));
                }
                else if (name == "Reference")
                {
                    var hint = element.Elements().Where(e => e.Name.LocalName == "HintPath").Select(e => e.Value.Trim()).FirstOrDefault();
                    if (hint != null) project.hintPaths.Add(hint.Replace('\\', '/'));
                }
            }
            return project;
        }

        private static XDocument Load(string file, string fix)
        {
            try
            {
                return XDocument.Load(file, LoadOptions.SetLineInfo);
            }
            catch (XmlException e)
            {
                throw new PhaseException(file + " is not valid XML: " + e.Message + " " + fix);
            }
        }

        private static IEnumerable<string> Split(string list) =>
            (list ?? "").Split(';').Select(s => s.Trim()).Where(s => s.Length > 0 && !s.StartsWith("$(", StringComparison.Ordinal));

        /// <summary>RestoreSources from the environment, then the project's, then nuget.config's.</summary>
        public List<IPackageSource> Sources()
        {
            var named = Split(Environment.GetEnvironmentVariable("RestoreSources")).Concat(restoreSources).ToList();
            var config = ConfigNames.Select(n => Path.Combine(volume, n)).FirstOrDefault(File.Exists);
            if (config != null)
                named.AddRange(Load(config, "Fix nuget.config or remove it.").Descendants()
                    .Where(e => e.Name.LocalName == "add" && e.Parent != null && e.Parent.Name.LocalName == "packageSources")
                    .Select(e => ((string)e.Attribute("value") ?? "").Trim()).Where(v => v.Length > 0));
            HttpClient http = null;
            var sources = new List<IPackageSource>();
            foreach (var source in named.Distinct())
            {
                if (source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                    sources.Add(new FeedSource(source, http ?? (http = FeedSource.Client())));
                else
                    sources.Add(new FolderSource(Path.GetFullPath(Path.Combine(volume, source))));
            }
            return sources;
        }

        /// <summary>The installation phase: every reference satisfied, packages restored into packages/.</summary>
        public void Install()
        {
            var restore = Unsatisfied(true);
            if (restore.Count > 0)
            {
                var sources = Sources();
                if (sources.Count == 0) throw NoSource(restore);
                var restorer = new Restorer(sources, Packages);
                foreach (var package in restore)
                    restorer.Restore(package.Key, VersionRange.Parse(package.Value), Path.GetFileName(path));
            }
            CheckHintPaths();
            if (Libraries.Count > 0)
                Console.WriteLine("References from the bundle: " + string.Join(", ", Libraries.Select(Relative)));
        }

        /// <summary>The compilation phase: the same references, restored ones found in packages/.</summary>
        public void Verify()
        {
            var missing = Unsatisfied(false).Where(p => !Directory.Exists(Path.Combine(Packages, p.Key.ToLowerInvariant()))).ToList();
            if (missing.Count > 0)
            {
                if (Sources().Count == 0) throw NoSource(missing);
                throw new PhaseException(Describe(missing) + " of " + Path.GetFileName(path) + " was not restored: deploy with " +
                    "--dependencies " + Path.GetFileName(path) + " (or the project file in the bundle) so the installation phase restores it.");
            }
            if (Directory.Exists(Packages))
                Libraries.AddRange(Directory.GetFiles(Packages, "*.dll", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal));
            CheckHintPaths();
        }

        private List<KeyValuePair<string, string>> Unsatisfied(bool report)
        {
            var unsatisfied = new List<KeyValuePair<string, string>>();
            foreach (var package in packages)
            {
                var dll = Libraries.FirstOrDefault(l => string.Equals(Path.GetFileNameWithoutExtension(l), package.Key, StringComparison.OrdinalIgnoreCase));
                if (string.Equals(package.Key, BuiltIn, StringComparison.OrdinalIgnoreCase))
                {
                    if (report) Console.WriteLine(package.Key + " " + package.Value + ": built into the runtime (Event, Context, Extensions, Request).");
                }
                else if (dll != null)
                {
                    if (report) Console.WriteLine(package.Key + " " + package.Value + ": lib/" + Path.GetFileName(dll) + " of the bundle.");
                }
                else
                    unsatisfied.Add(package);
            }
            return unsatisfied;
        }

        private void CheckHintPaths()
        {
            foreach (var hint in hintPaths)
            {
                var full = Path.GetFullPath(Path.Combine(volume, hint));
                if (!File.Exists(full))
                    throw new PhaseException(path + " references " + hint + " (HintPath), which is not in the " +
                        "function's bundle. Ship the DLL in the zip at that path, or under lib/.");
                if (!Libraries.Contains(full)) Libraries.Add(full);
            }
        }

        private static string Describe(List<KeyValuePair<string, string>> packages) =>
            "the NuGet package" + (packages.Count > 1 ? "s " : " ") + string.Join(", ", packages.Select(p => (p.Key + " " + p.Value).Trim()));

        private PhaseException NoSource(List<KeyValuePair<string, string>> packages)
        {
            return new PhaseException(Path.GetFileName(path) + " asks for " + Describe(packages) + ", and no NuGet " +
                "source is named (only Kubeless.Functions is built in). Either ship the package's DLL in the " +
                "function's zip under lib/ (the .nupkg is a zip: take lib/net45/NAME.dll; lib/NAME.dll satisfies " +
                "the PackageReference NAME), or name a source: <RestoreSources>URL-or-folder</RestoreSources> " +
                "in the project file, a nuget.config in the zip, or --env RestoreSources=URL (a NuGet v3 feed's " +
                "index.json, or a folder of .nupkg files in the zip).");
        }

        private string Relative(string file) =>
            file.StartsWith(volume.TrimEnd('/') + "/", StringComparison.Ordinal) ? file.Substring(volume.TrimEnd('/').Length + 1) : file;
    }
}
