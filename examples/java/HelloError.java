package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class HelloError {
    public String handler(io.kubeless.Event event, io.kubeless.Context context) {
        throw new IllegalStateException("something went wrong");
    }
}
