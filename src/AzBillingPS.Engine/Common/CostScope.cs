using System;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// The one spelling of a scope the module stores and compares: ARM ids are case-insensitive, so a scope is
/// kept lower-case, with one leading slash and none trailing; a bare GUID means that subscription.
/// Two spellings of one scope can therefore never load the same month twice.
/// </summary>
public static class CostScope
{
    public static string Normalize(string scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        string s = scope.Trim();
        if (Guid.TryParse(s, out Guid subscription))
        {
            return "/subscriptions/" + subscription.ToString("D");
        }

        s = s.Trim('/');
        if (s.Length == 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "The scope is empty; give an ARM scope such as /subscriptions/{id} or a subscription GUID.");
        }

        return "/" + s.ToLowerInvariant();
    }
}
