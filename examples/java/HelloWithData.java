package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class Echo {
    public String handler(io.kubeless.Event event, io.kubeless.Context context) {
        // event.Data is the body as sent; getJson() is it parsed, for application/json.
        System.out.println(event.isJson() ? event.getJson() : event.Data);
        return event.Data;
    }
}
