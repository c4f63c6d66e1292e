using System;
using Kubeless.Functions;

public class module
{
    public object handler(Event k8Event, Context k8Context)
    {
        throw new InvalidOperationException("something went wrong in the function");
    }
}
