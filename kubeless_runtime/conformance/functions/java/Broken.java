package io.kubeless;

import io.kubeless.Context;
import io.kubeless.Event;

/** Must not compile: the compile-error case expects javac's own line in the termination log. */
public class Broken {
    public String handler(Event event, Context context) {
        Strin greeting = "hello";
        return greeting;
    }
}
