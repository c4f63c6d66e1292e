// The library the fibonacci example ships as lib/MathTools.dll (make-bundle.sh compiles it):
// this runtime has no NuGet feed, so a package is a DLL in the bundle's lib/ folder.
using System.Reflection;

[assembly: AssemblyVersion("1.0.0")]

namespace MathTools
{
    public static class Sequences
    {
        public static long Fibonacci(int n)
        {
            long a = 0, b = 1;
            for (var i = 0; i < n; i++)
            {
                var next = a + b;
                a = b;
                b = next;
            }
            return a;
        }
    }
}
