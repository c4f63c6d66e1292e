using Kubeless.Functions;

public class broken
{
    public object handler(Event k8Event, Context k8Context)
    {
        return undefinedName;
    }
}
