namespace Kubeless.Functions
{
    /// <summary>
    /// The request behind the event. Kubeless typed it <c>object HttpRequest</c> (it held
    /// ASP.NET Core's request); here it holds a <see cref="Functions.Request"/>, also reachable
    /// typed as <see cref="Request"/>.
    /// </summary>
    public class Extensions
    {
        public object HttpRequest { get; }

        public Request Request => HttpRequest as Request;

        public Extensions(object httpRequest)
        {
            HttpRequest = httpRequest;
        }
    }
}
