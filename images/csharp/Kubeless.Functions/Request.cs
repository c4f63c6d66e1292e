using System;
using System.Collections.Specialized;
using System.IO;

namespace Kubeless.Functions
{
    /// <summary>
    /// The HTTP request of a call, with the names ASP.NET Core's HttpRequest uses for the same
    /// things (the runtime Kubeless ran on), so a function reading <c>Method</c>,
    /// <c>Path</c>, <c>QueryString</c>, <c>Headers["X-Name"]</c> or <c>Body</c> reads the same
    /// values. Header and query names are case-insensitive; repeated ones are joined by commas
    /// (<c>GetValues</c> gives them one by one).
    /// </summary>
    public class Request
    {
        public string Method { get; }
        public string Scheme { get; }
        public string Host { get; }
        public string Path { get; }
        /// <summary>"?a=1&amp;b=2" as received, or "" when there is none.</summary>
        public string QueryString { get; }
        public NameValueCollection Query { get; }
        public NameValueCollection Headers { get; }
        public string Protocol { get; }
        public string RemoteAddress { get; }
        public int RemotePort { get; }
        public byte[] BodyBytes { get; }

        /// <summary>The body as a fresh stream at position 0 (read it as often as needed).</summary>
        public Stream Body => new MemoryStream(BodyBytes, false);
        public string ContentType => Headers["Content-Type"];
        public long? ContentLength => BodyBytes.LongLength;

        public Request(string method, string scheme, string host, string path, string query,
                       NameValueCollection headers, byte[] body, string protocol = "HTTP/1.1",
                       string remoteAddress = null, int remotePort = 0)
        {
            Method = method;
            Scheme = scheme;
            Host = host;
            Path = path;
            QueryString = string.IsNullOrEmpty(query) ? "" : "?" + query;
            Query = ParseQuery(query);
            Headers = headers ?? new NameValueCollection(StringComparer.OrdinalIgnoreCase);
            BodyBytes = body ?? new byte[0];
            Protocol = protocol;
            RemoteAddress = remoteAddress;
            RemotePort = remotePort;
        }

        private static NameValueCollection ParseQuery(string query)
        {
            var result = new NameValueCollection(StringComparer.OrdinalIgnoreCase);
            if (string.IsNullOrEmpty(query)) return result;
            foreach (var pair in query.Split('&'))
            {
                if (pair.Length == 0) continue;
                var eq = pair.IndexOf('=');
                var name = eq < 0 ? pair : pair.Substring(0, eq);
                var value = eq < 0 ? "" : pair.Substring(eq + 1);
                result.Add(Unescape(name), Unescape(value));
            }
            return result;
        }

        private static string Unescape(string text)
        {
            return Uri.UnescapeDataString(text.Replace('+', ' '));
        }
    }
}
