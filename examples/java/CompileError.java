package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class CompileError {
    public String handler(io.kubeless.Event event, io.kubeless.Context context) {
        return undefinedName;
    }
}
