namespace Kubeless.Functions
{
    /// <summary>
    /// What a call carries, with Kubeless's property names. <see cref="Data"/> is the body:
    /// for Content-Type application/json the parsed value (a System.Json JsonObject or
    /// JsonArray, whose ToString() is the JSON text; a top-level string, number or boolean as
    /// the CLR value; null for an empty body), otherwise the body as a string, or as a byte[]
    /// when it is not valid UTF-8.
    /// </summary>
    public class Event
    {
        public object Data { get; }
        public string EventId { get; }
        public string EventType { get; }
        public string EventTime { get; }
        public string EventNamespace { get; }
        public Extensions Extensions { get; }

        public Event(object data, string eventId, string eventType, string eventTime,
                     string eventNamespace, Extensions extensions)
        {
            Data = data;
            EventId = eventId;
            EventType = eventType;
            EventTime = eventTime;
            EventNamespace = eventNamespace;
            Extensions = extensions;
        }

        public Event() { }
    }
}
