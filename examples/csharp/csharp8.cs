using System;
using Kubeless.Functions;

public class module
{
    public object handler(Event k8Event, Context k8Context)
    {
        var data = k8Event.Data;
        return data switch
        {
            null => "nothing",
            _ => data,
        };
    }
}
