using System;
using Kubeless.Functions;
using MathTools;

public class module
{
    public object handler(Event k8Event, Context k8Context)
    {
        var text = Convert.ToString(k8Event.Data);
        var n = string.IsNullOrEmpty(text) ? 10 : int.Parse(text);
        return new { N = n, Fibonacci = Sequences.Fibonacci(n) };
    }
}
