using System;
using System.Collections;
using System.Globalization;
using System.Json;
using System.Reflection;
using System.Text;

namespace Kubeless.Launcher
{
    /// <summary>
    /// JSON both ways. Reading is System.Json's (the JsonObject a function gets prints itself as
    /// JSON, as Kubeless's JObject did); writing a result is here because System.Json does not
    /// serialize arbitrary objects. Results are written as ASP.NET Core 2 wrote them for
    /// Kubeless: public properties (and fields) in camelCase, dictionary keys as they are,
    /// dates in ISO 8601, byte arrays in base64, enums as numbers.
    /// </summary>
    internal static class Json
    {
        public const int MaxDepth = 512;
        private const int MaxWriteDepth = 128;

        /// <summary>The parsed body: null when empty; top-level scalars as CLR values.</summary>
        public static object ParseData(string text)
        {
            if (text.Trim().Length == 0) return null;
            if (Depth(text) > MaxDepth)
                throw new BadRequestException("The JSON body nests arrays or objects more than " +
                    MaxDepth + " levels deep, which this runtime refuses; flatten the data.");
            JsonValue value;
            try
            {
                value = JsonValue.Parse(text);
            }
            catch (Exception e) when (e is ArgumentException || e is FormatException ||
                                      e is InvalidOperationException || e is OverflowException)
            {
                throw new BadRequestException("Malformed JSON body (" + e.Message + ")");
            }
            return Scalar(value);
        }

        /// <summary>A JsonPrimitive as string, bool, long or double; containers unchanged.</summary>
        public static object Scalar(JsonValue value)
        {
            if (value == null) return null;
            switch (value.JsonType)
            {
                case JsonType.String: return (string)value;
                case JsonType.Boolean: return (bool)value;
                case JsonType.Number:
                    var text = value.ToString();
                    long whole;
                    if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out whole))
                        return whole;
                    return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
                default: return value;
            }
        }

        /// <summary>How deep arrays and objects nest, strings skipped (before parsing recurses).</summary>
        public static int Depth(string text)
        {
            int depth = 0, deepest = 0;
            var inString = false;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (inString)
                {
                    if (c == '\\') i++;
                    else if (c == '"') inString = false;
                }
                else if (c == '"') inString = true;
                else if (c == '[' || c == '{') deepest = Math.Max(deepest, ++depth);
                else if (c == ']' || c == '}') depth--;
            }
            return deepest;
        }

        public static string Write(object value)
        {
            var text = new StringBuilder();
            Write(text, value, 0);
            return text.ToString();
        }

        private static void Write(StringBuilder o, object value, int depth)
        {
            if (depth > MaxWriteDepth)
                throw new InvalidOperationException("the result nests more than " + MaxWriteDepth +
                    " levels deep (a reference cycle?); return a tree of values");
            if (value == null) { o.Append("null"); return; }
            if (value is JsonValue) { o.Append(value.ToString()); return; }
            if (value is string) { Quote(o, (string)value); return; }
            if (value is bool) { o.Append((bool)value ? "true" : "false"); return; }
            if (value is char) { Quote(o, value.ToString()); return; }
            if (value is byte[]) { Quote(o, Convert.ToBase64String((byte[])value)); return; }
            if (value is DateTime) { Quote(o, ((DateTime)value).ToString("o", CultureInfo.InvariantCulture)); return; }
            if (value is DateTimeOffset) { Quote(o, ((DateTimeOffset)value).ToString("o", CultureInfo.InvariantCulture)); return; }
            if (value is Guid || value is Uri) { Quote(o, value.ToString()); return; }
            if (value is TimeSpan) { Quote(o, ((TimeSpan)value).ToString("c", CultureInfo.InvariantCulture)); return; }
            if (value is Enum) { o.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture)); return; }
            if (value is float) { Number(o, (float)value, ((float)value).ToString("R", CultureInfo.InvariantCulture)); return; }
            if (value is double) { Number(o, (double)value, ((double)value).ToString("R", CultureInfo.InvariantCulture)); return; }
            if (value is decimal) { o.Append(((decimal)value).ToString(CultureInfo.InvariantCulture)); return; }
            var number = value as IConvertible;
            if (number != null && IsInteger(number))
            {
                o.Append(Convert.ToString(number, CultureInfo.InvariantCulture));
                return;
            }
            var map = value as IDictionary;
            if (map != null)
            {
                o.Append('{');
                var first = true;
                foreach (DictionaryEntry entry in map)
                {
                    if (!first) o.Append(',');
                    first = false;
                    Quote(o, Convert.ToString(entry.Key, CultureInfo.InvariantCulture));
                    o.Append(':');
                    Write(o, entry.Value, depth + 1);
                }
                o.Append('}');
                return;
            }
            var items = value as IEnumerable;
            if (items != null)
            {
                o.Append('[');
                var any = false;
                foreach (var item in items)
                {
                    if (any) o.Append(',');
                    any = true;
                    Write(o, item, depth + 1);
                }
                o.Append(']');
                return;
            }
            WriteObject(o, value, depth);
        }

        private static void WriteObject(StringBuilder o, object value, int depth)
        {
            o.Append('{');
            var first = true;
            const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance;
            var type = value.GetType();
            foreach (var property in type.GetProperties(Public))
            {
                if (!property.CanRead || property.GetIndexParameters().Length > 0) continue;
                Member(o, ref first, property.Name, property.GetValue(value, null), depth);
            }
            foreach (var field in type.GetFields(Public))
                Member(o, ref first, field.Name, field.GetValue(value), depth);
            o.Append('}');
        }

        private static void Member(StringBuilder o, ref bool first, string name, object value, int depth)
        {
            if (!first) o.Append(',');
            first = false;
            Quote(o, CamelCase(name));
            o.Append(':');
            Write(o, value, depth + 1);
        }

        private static bool IsInteger(IConvertible n)
        {
            switch (n.GetTypeCode())
            {
                case TypeCode.SByte: case TypeCode.Byte: case TypeCode.Int16: case TypeCode.UInt16:
                case TypeCode.Int32: case TypeCode.UInt32: case TypeCode.Int64: case TypeCode.UInt64:
                    return true;
                default:
                    return false;
            }
        }

        private static void Number(StringBuilder o, double value, string text)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new InvalidOperationException("the result holds " + text + ", which JSON cannot carry");
            o.Append(text);
        }

        /// <summary>Newtonsoft's camel case: "Name" -> "name", "URLValue" -> "urlValue", "ID" -> "id".</summary>
        public static string CamelCase(string name)
        {
            if (string.IsNullOrEmpty(name) || !char.IsUpper(name[0])) return name;
            var chars = name.ToCharArray();
            for (var i = 0; i < chars.Length; i++)
            {
                if (i == 1 && !char.IsUpper(chars[i])) break;
                var nextIsLower = i + 1 < chars.Length && !char.IsUpper(chars[i + 1]);
                if (i > 0 && nextIsLower)
                {
                    if (char.IsSeparator(chars[i + 1])) chars[i] = char.ToLowerInvariant(chars[i]);
                    break;
                }
                chars[i] = char.ToLowerInvariant(chars[i]);
            }
            return new string(chars);
        }

        public static void Quote(StringBuilder o, string s)
        {
            o.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': o.Append("\\\""); break;
                    case '\\': o.Append("\\\\"); break;
                    case '\n': o.Append("\\n"); break;
                    case '\r': o.Append("\\r"); break;
                    case '\t': o.Append("\\t"); break;
                    default:
                        if (c < 0x20) o.Append("\\u").Append(((int)c).ToString("x4"));
                        else o.Append(c);
                        break;
                }
            }
            o.Append('"');
        }
    }

    /// <summary>The request cannot become an event (answered 400).</summary>
    internal sealed class BadRequestException : Exception
    {
        public BadRequestException(string message) : base(message) { }
    }
}
