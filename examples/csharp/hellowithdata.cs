using System;
using Kubeless.Functions;

public class module
{
    public object handler(Event k8Event, Context k8Context)
    {
        Console.WriteLine(k8Event.Data);
        return k8Event.Data;
    }
}
