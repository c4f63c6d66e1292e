using System;
using System.Threading.Tasks;
using Kubeless.Functions;

public class asyncget
{
    public async Task<object> foo(Event k8Event, Context k8Context)
    {
        await Task.Delay(10);
        var request = k8Event.Extensions.Request;
        return new
        {
            Method = request.Method,
            Path = request.Path,
            Query = request.Query["name"],
            Function = k8Context.FunctionName,
            Runtime = k8Context.Runtime,
        };
    }
}
