// The one dependency of the conformance function: built into lib/KubelessConformanceDep.dll
// of conformance.zip by make-bundle.sh (a DLL in the bundle's lib/ needs no NuGet source).
using System.Reflection;

[assembly: AssemblyVersion("1.0.0")]

namespace KubelessConformanceDep
{
    public static class Dependency
    {
        public const string Name = "KubelessConformanceDep";
        public const string Version = "1.0.0";
    }
}
