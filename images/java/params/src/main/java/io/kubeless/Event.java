package io.kubeless;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * What a Kubeless Java function is called with: the request body and the event headers.
 *
 * <p>The public fields are Kubeless's ({@code event.Data} and friends); the getters are the
 * same values. {@code Data} is the body as UTF-8 text with every byte and newline kept;
 * {@link #getBody()} is the raw bytes and {@link #getJson()} the parsed body of an
 * {@code application/json} request (Map, List, String, Long, Double, Boolean or null).
 */
public class Event {
    public String Data;
    public String EventID;
    public String EventType;
    public String EventTime;
    public String EventNamespace;

    private final byte[] body;
    private final Object json;
    private final boolean isJson;
    private final Extensions extensions;

    public Event(String data, String eventId, String eventType, String eventTime,
                 String eventNamespace) {
        this(data == null ? new byte[0] : data.getBytes(StandardCharsets.UTF_8), null, false,
             eventId, eventType, eventTime, eventNamespace, null);
    }

    public Event(byte[] body, Object json, boolean isJson, String eventId, String eventType,
                 String eventTime, String eventNamespace, Extensions extensions) {
        this.body = body == null ? new byte[0] : body;
        this.Data = new String(this.body, StandardCharsets.UTF_8);
        this.json = json;
        this.isJson = isJson;
        this.EventID = eventId;
        this.EventType = eventType;
        this.EventTime = eventTime;
        this.EventNamespace = eventNamespace;
        this.extensions = extensions == null
                ? new Extensions("GET", "/", "", Collections.emptyMap()) : extensions;
    }

    public String getData() { return Data; }
    public String getEventId() { return EventID; }
    public String getEventID() { return EventID; }
    public String getEventType() { return EventType; }
    public String getEventTime() { return EventTime; }
    public String getEventNamespace() { return EventNamespace; }

    /** The request body, byte for byte. */
    public byte[] getBody() { return body.clone(); }

    /** The parsed JSON body, or null when the request was not {@code application/json}. */
    public Object getJson() { return json; }

    /** Whether the request was {@code application/json} (so {@link #getJson()} is its value). */
    public boolean isJson() { return isJson; }

    public Extensions getExtensions() { return extensions; }

    /** The HTTP request behind the event. Header names are lower case. */
    public static final class Extensions {
        private final String method;
        private final String path;
        private final String query;
        private final Map<String, List<String>> headers;

        public Extensions(String method, String path, String query,
                          Map<String, List<String>> headers) {
            this.method = method;
            this.path = path;
            this.query = query;
            this.headers = Collections.unmodifiableMap(headers);
        }

        public String getMethod() { return method; }
        public String getPath() { return path; }
        /** The raw query string, without '?'; empty when there is none. */
        public String getQuery() { return query; }
        public Map<String, List<String>> getHeaders() { return headers; }

        /** The first value of a header (any case), or null. */
        public String getHeader(String name) {
            List<String> values = headers.get(name.toLowerCase(java.util.Locale.ROOT));
            return values == null || values.isEmpty() ? null : values.get(0);
        }
    }
}
