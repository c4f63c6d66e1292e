using System.Threading;
using Kubeless.Functions;

public class module
{
    public object handler(Event k8Event, Context k8Context)
    {
        Thread.Sleep(100000);
        return "this is never returned";
    }
}
