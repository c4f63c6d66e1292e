package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class Timeout {
    public String handler(io.kubeless.Event event, io.kubeless.Context context) throws InterruptedException {
        Thread.sleep(10_000);
        return "too late";
    }
}
