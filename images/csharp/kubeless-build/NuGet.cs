using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Json;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Xml.Linq;

namespace Kubeless.Build
{
    /// <summary>A NuGet package version: numeric parts, then an optional pre-release label.</summary>
    internal sealed class NuGetVersion : IComparable<NuGetVersion>
    {
        private readonly int[] parts;
        public readonly string Release;
        public readonly string Text;

        private NuGetVersion(int[] parts, string release, string text)
        {
            this.parts = parts;
            Release = release;
            Text = text;
        }

        public static NuGetVersion Parse(string text)
        {
            var value = text.Trim().Split('+')[0];
            var dash = value.IndexOf('-');
            var numbers = (dash < 0 ? value : value.Substring(0, dash)).Split('.');
            var parts = new int[4];
            if (numbers.Length > 4) throw new FormatException("version " + text + " has more than four numbers");
            for (var i = 0; i < numbers.Length; i++)
                parts[i] = int.Parse(numbers[i], NumberStyles.None, CultureInfo.InvariantCulture);
            return new NuGetVersion(parts, dash < 0 ? "" : value.Substring(dash + 1), value);
        }

        public int CompareTo(NuGetVersion other)
        {
            for (var i = 0; i < 4; i++)
                if (parts[i] != other.parts[i]) return parts[i].CompareTo(other.parts[i]);
            if (Release.Length == 0 || other.Release.Length == 0) return other.Release.Length.CompareTo(Release.Length);
            return string.Compare(Release, other.Release, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>The form NuGet's feeds and folders use in paths: trailing ".0" parts dropped to three.</summary>
        public string Normalized
        {
            get
            {
                var count = parts[3] != 0 ? 4 : 3;
                var text = string.Join(".", parts.Take(count).Select(p => p.ToString(CultureInfo.InvariantCulture)));
                return (Release.Length > 0 ? text + "-" + Release : text).ToLowerInvariant();
            }
        }

        public override string ToString() => Text;
    }

    /// <summary>
    /// A PackageReference's Version as NuGet reads it: "1.2" is 1.2 or later (the lowest
    /// available wins), "[1.2]" exactly, "[1.0,2.0)" a range, "1.*" the highest 1.x.
    /// </summary>
    internal sealed class VersionRange
    {
        private NuGetVersion min, max;
        private bool minInclusive = true, maxInclusive;
        private string floating;
        public readonly string Text;

        private VersionRange(string text)
        {
            Text = text;
        }

        public static VersionRange Parse(string text)
        {
            var range = new VersionRange(text);
            var value = (text ?? "").Trim();
            try
            {
                if (value.Length == 0) return range;
                if (value.EndsWith("*", StringComparison.Ordinal))
                {
                    range.floating = value.TrimEnd('*');
                    return range;
                }
                if (value[0] != '[' && value[0] != '(')
                {
                    range.min = NuGetVersion.Parse(value);
                    return range;
                }
                range.minInclusive = value[0] == '[';
                range.maxInclusive = value[value.Length - 1] == ']';
                var inner = value.Substring(1, value.Length - 2).Split(',');
                if (inner.Length == 1)
                {
                    range.min = range.max = NuGetVersion.Parse(inner[0]);
                    range.maxInclusive = true;
                    return range;
                }
                if (inner[0].Trim().Length > 0) range.min = NuGetVersion.Parse(inner[0]);
                if (inner[1].Trim().Length > 0) range.max = NuGetVersion.Parse(inner[1]);
                return range;
            }
            catch (Exception e) when (e is FormatException || e is OverflowException || e is IndexOutOfRangeException)
            {
                throw new PhaseException("Version=\"" + text + "\" is not a NuGet version or range: write 1.2.3 " +
                    "(1.2.3 or later), [1.2.3] (exactly) or [1.0,2.0) (a range).");
            }
        }

        public bool Satisfies(NuGetVersion version)
        {
            if (floating != null)
                return version.Release.Length == 0 && (version.Text + ".").StartsWith(floating, StringComparison.OrdinalIgnoreCase);
            if (version.Release.Length > 0 && (min == null || min.Release.Length == 0)) return false;
            if (min != null && (minInclusive ? version.CompareTo(min) < 0 : version.CompareTo(min) <= 0)) return false;
            if (max != null && (maxInclusive ? version.CompareTo(max) > 0 : version.CompareTo(max) >= 0)) return false;
            return true;
        }

        /// <summary>NuGet's choice: the lowest satisfying version, or the highest for "1.*".</summary>
        public NuGetVersion Pick(IEnumerable<NuGetVersion> available)
        {
            var matching = available.Where(Satisfies).OrderBy(v => v).ToList();
            if (matching.Count == 0) return null;
            return floating != null ? matching.Last() : matching.First();
        }
    }

    /// <summary>Where packages come from: a v3 feed (its index.json) or a folder of .nupkg files.</summary>
    internal interface IPackageSource
    {
        string Name { get; }
        IList<NuGetVersion> Versions(string id);
        byte[] Download(string id, NuGetVersion version);
    }

    /// <summary>A local feed: .nupkg files in a folder, flat or as id/version/ (both NuGet layouts).</summary>
    internal sealed class FolderSource : IPackageSource
    {
        private readonly string folder;
        private Dictionary<string, Dictionary<string, string>> index;

        public FolderSource(string folder)
        {
            this.folder = folder;
        }

        public string Name => folder;

        private Dictionary<string, Dictionary<string, string>> Index()
        {
            if (index != null) return index;
            index = new Dictionary<string, Dictionary<string, string>>(StringComparer.OrdinalIgnoreCase);
            if (!Directory.Exists(folder)) return index;
            foreach (var file in Directory.GetFiles(folder, "*.nupkg", SearchOption.AllDirectories))
            {
                var spec = Nupkg.Read(File.ReadAllBytes(file));
                if (!index.ContainsKey(spec.Id)) index[spec.Id] = new Dictionary<string, string>();
                index[spec.Id][spec.Version.Normalized] = file;
            }
            return index;
        }

        public IList<NuGetVersion> Versions(string id)
        {
            Dictionary<string, string> versions;
            return Index().TryGetValue(id, out versions) ? versions.Keys.Select(NuGetVersion.Parse).ToList() : new List<NuGetVersion>();
        }

        public byte[] Download(string id, NuGetVersion version) => File.ReadAllBytes(Index()[id][version.Normalized]);
    }

    /// <summary>A NuGet v3 feed, through its PackageBaseAddress (the flat container).</summary>
    internal sealed class FeedSource : IPackageSource
    {
        private readonly string index;
        private readonly HttpClient http;
        private string baseAddress;

        public FeedSource(string index, HttpClient http)
        {
            this.index = index;
            this.http = http;
        }

        public string Name => index;

        private string BaseAddress()
        {
            if (baseAddress != null) return baseAddress;
            var service = JsonValue.Parse(Get(index, false));
            foreach (JsonValue resource in (JsonArray)service["resources"])
            {
                var type = (string)resource["@type"];
                if (type != null && type.StartsWith("PackageBaseAddress/3.0.0", StringComparison.Ordinal))
                    return baseAddress = ((string)resource["@id"]).TrimEnd('/') + "/";
            }
            throw new PhaseException(index + " is not a NuGet v3 feed: its index.json lists no PackageBaseAddress/3.0.0 resource.");
        }

        public IList<NuGetVersion> Versions(string id)
        {
            var text = Get(BaseAddress() + id.ToLowerInvariant() + "/index.json", true);
            if (text == null) return new List<NuGetVersion>();
            return ((JsonArray)JsonValue.Parse(text)["versions"]).Select(v => NuGetVersion.Parse((string)v)).ToList();
        }

        public byte[] Download(string id, NuGetVersion version)
        {
            var name = id.ToLowerInvariant();
            var url = BaseAddress() + name + "/" + version.Normalized + "/" + name + "." + version.Normalized + ".nupkg";
            using (var response = Send(url))
            {
                response.EnsureSuccessStatusCode();
                return response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            }
        }

        private string Get(string url, bool missingIsNull)
        {
            using (var response = Send(url))
            {
                if (missingIsNull && response.StatusCode == HttpStatusCode.NotFound) return null;
                if (!response.IsSuccessStatusCode)
                    throw new PhaseException("GET " + url + " answered " + (int)response.StatusCode + " " + response.ReasonPhrase + ".");
                return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            }
        }

        private HttpResponseMessage Send(string url)
        {
            try
            {
                return http.GetAsync(url).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is HttpRequestException || e is OperationCanceledException || e is WebException)
            {
                var cause = e.InnerException != null ? e.InnerException.Message : e.Message;
                throw new PhaseException("The NuGet feed " + index + " cannot be reached (GET " + url + ": " + cause + "). " +
                    "Name a feed the installation phase can reach, or ship the package's .nupkg in the bundle " +
                    "and list its folder in nuget.config.");
            }
        }

        /// <summary>
        /// An HttpClient that also trusts the CA bundle SSL_CERT_FILE names (the deploy mounts
        /// it for TLS-intercepting proxies), as the other runtimes' installers do. Mono's TLS
        /// (BoringSSL) reads trusted roots from its stores' new-certs/Trust folders, one PEM
        /// per certificate named by OpenSSL's subject hash: the bundle is split into the user
        /// store and `openssl rehash` names the files.
        /// </summary>
        public static HttpClient Client()
        {
            var bundle = Environment.GetEnvironmentVariable("SSL_CERT_FILE");
            if (!string.IsNullOrEmpty(bundle) && File.Exists(bundle)) Trust(bundle);
            return new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
        }

        private static void Trust(string bundle)
        {
            var home = Environment.GetEnvironmentVariable("HOME");
            if (string.IsNullOrEmpty(home)) home = "/tmp";
            var store = Path.Combine(home, ".config", ".mono", "new-certs", "Trust");
            const string End = "-----END CERTIFICATE-----";
            var text = File.ReadAllText(bundle);
            var count = 0;
            try
            {
                Directory.CreateDirectory(store);
                for (var start = text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal); start >= 0;
                     start = text.IndexOf("-----BEGIN CERTIFICATE-----", start + 1, StringComparison.Ordinal))
                {
                    var end = text.IndexOf(End, start, StringComparison.Ordinal);
                    if (end < 0) break;
                    File.WriteAllText(Path.Combine(store, "kubeless-ca-" + count++ + ".pem"), text.Substring(start, end + End.Length - start) + "\n");
                }
                string output;
                if (Program.Run("openssl", new[] { "rehash", store }, out output) != 0)
                    Console.WriteLine("warning: openssl rehash " + store + " failed: " + output.Trim());
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                Console.WriteLine("warning: the CA bundle " + bundle + " cannot be added to Mono's trust store " + store + ": " + e.Message);
            }
        }
    }

    /// <summary>What a .nupkg says of itself (.nuspec) and which of its assemblies Mono can use.</summary>
    internal sealed class Nupkg
    {
        /// <summary>Target frameworks Mono's .NET Framework 4.x profile runs, best first.</summary>
        private static readonly string[] Frameworks =
        {
            "net48", "net472", "net471", "net47", "net462", "net461", "net46", "net452", "net451", "net45",
            "net403", "net40", "net35", "net20", "net",
        };

        public string Id;
        public NuGetVersion Version;
        public readonly List<KeyValuePair<string, VersionRange>> Dependencies = new List<KeyValuePair<string, VersionRange>>();
        public string Framework;
        private readonly List<ZipArchiveEntry> assemblies = new List<ZipArchiveEntry>();
        public List<string> LibraryFrameworks = new List<string>();

        public static Nupkg Read(byte[] package)
        {
            var archive = new ZipArchive(new MemoryStream(package), ZipArchiveMode.Read);
            var spec = archive.Entries.FirstOrDefault(e => !e.FullName.Contains("/") && e.FullName.EndsWith(".nuspec", StringComparison.OrdinalIgnoreCase));
            if (spec == null) throw new PhaseException("a .nupkg holds no .nuspec file: it is not a NuGet package");
            XDocument nuspec;
            using (var stream = spec.Open()) nuspec = XDocument.Load(stream);
            var metadata = nuspec.Root.Elements().First(e => e.Name.LocalName == "metadata");
            Func<string, string> field = name => metadata.Elements().Where(e => e.Name.LocalName == name).Select(e => e.Value.Trim()).FirstOrDefault();
            var result = new Nupkg { Id = field("id"), Version = NuGetVersion.Parse(field("version")) };
            var libraries = archive.Entries
                .Where(e => e.FullName.StartsWith("lib/", StringComparison.OrdinalIgnoreCase) && e.FullName.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                .Select(e => new { Entry = e, Parts = e.FullName.Split('/') })
                .ToList();
            result.LibraryFrameworks = libraries.Where(l => l.Parts.Length == 3).Select(l => l.Parts[1].ToLowerInvariant()).Distinct().ToList();
            result.Framework = Frameworks.FirstOrDefault(f => result.LibraryFrameworks.Contains(f));
            var chosen = libraries.Where(l => l.Parts.Length == 3 ? l.Parts[1].ToLowerInvariant() == result.Framework : result.Framework == null && l.Parts.Length == 2);
            result.assemblies.AddRange(chosen.Select(l => l.Entry));
            var dependencies = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "dependencies");
            if (dependencies != null)
            {
                var groups = dependencies.Elements().Where(e => e.Name.LocalName == "group").ToList();
                var group = groups.Count == 0 ? dependencies : BestGroup(groups);
                if (group != null)
                    foreach (var dependency in group.Elements().Where(e => e.Name.LocalName == "dependency"))
                        result.Dependencies.Add(new KeyValuePair<string, VersionRange>(
                            (string)dependency.Attribute("id"), VersionRange.Parse((string)dependency.Attribute("version"))));
            }
            return result;
        }

        private static XElement BestGroup(List<XElement> groups)
        {
            Func<XElement, string> framework = g => Short((string)g.Attribute("targetFramework") ?? "");
            return Frameworks.Select(f => groups.FirstOrDefault(g => framework(g) == f)).FirstOrDefault(g => g != null)
                   ?? groups.FirstOrDefault(g => framework(g) == "");
        }

        /// <summary>".NETFramework4.5" or "net45" as "net45".</summary>
        private static string Short(string framework)
        {
            var value = framework.Trim().ToLowerInvariant();
            if (value.StartsWith(".netframework", StringComparison.Ordinal))
                return "net" + value.Substring(".netframework".Length).TrimStart('v').Replace(".", "");
            return value;
        }

        public bool HasAssemblies => assemblies.Count > 0;

        /// <summary>Writes the chosen assemblies into folder; their paths.</summary>
        public List<string> Extract(string folder)
        {
            Directory.CreateDirectory(folder);
            var written = new List<string>();
            foreach (var entry in assemblies)
            {
                var target = Path.Combine(folder, entry.Name);
                using (var input = entry.Open())
                using (var output = File.Create(target))
                    input.CopyTo(output);
                written.Add(target);
            }
            return written;
        }
    }

    /// <summary>
    /// The installation phase's restore: each PackageReference (and what it depends on) from
    /// the sources, in order; the assemblies go to packages/ID/VERSION/ in the volume, where
    /// the compilation phase references them.
    /// </summary>
    internal sealed class Restorer
    {
        private readonly List<IPackageSource> sources;
        private readonly string packages;
        private readonly Dictionary<string, NuGetVersion> restored = new Dictionary<string, NuGetVersion>(StringComparer.OrdinalIgnoreCase);

        public Restorer(List<IPackageSource> sources, string packages)
        {
            this.sources = sources;
            this.packages = packages;
        }

        public static string Folder(string packages, string id, NuGetVersion version) =>
            Path.Combine(packages, id.ToLowerInvariant(), version.Normalized);

        public void Restore(string id, VersionRange range, string wantedBy)
        {
            NuGetVersion already;
            if (restored.TryGetValue(id, out already))
            {
                if (!range.Satisfies(already))
                    Console.WriteLine("warning: " + wantedBy + " wants " + id + " " + range.Text + "; " + already + " is restored (the first wins).");
                return;
            }
            var seen = new List<string>();
            foreach (var source in sources)
            {
                var versions = source.Versions(id);
                var version = range.Pick(versions);
                if (version == null)
                {
                    seen.Add(source.Name + (versions.Count == 0 ? " (no such package)" : " (has " + string.Join(", ", versions.OrderBy(v => v).Select(v => v.Text)) + ")"));
                    continue;
                }
                var package = Nupkg.Read(source.Download(id, version));
                if (!package.HasAssemblies && package.LibraryFrameworks.Count > 0)
                    throw new PhaseException(id + " " + version + " has assemblies only for " + string.Join(", ", package.LibraryFrameworks) +
                        ", none of which Mono's .NET Framework 4.x profile runs (net45 ... net48). Use a version " +
                        "with a net4x build, or ship a DLL built for .NET Framework under lib/.");
                restored[id] = version;
                var files = package.Extract(Folder(packages, id, version));
                Console.WriteLine("Restored " + id + " " + version + " from " + source.Name +
                                  (files.Count > 0 ? " (" + string.Join(", ", files.Select(Path.GetFileName)) + ", " + package.Framework + ")" : " (no assemblies)"));
                foreach (var dependency in package.Dependencies)
                    Restore(dependency.Key, dependency.Value, id + " " + version);
                return;
            }
            throw new PhaseException("The NuGet package " + id + " " + range.Text + " (wanted by " + wantedBy + ") is in none of the sources: " +
                string.Join("; ", seen) + ". Publish it to one of them, or ship its DLL under lib/.");
        }
    }
}
