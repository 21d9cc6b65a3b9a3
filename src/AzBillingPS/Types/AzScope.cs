using System;
using System.Management.Automation;
using AzBillingPS.Engine.Common;

namespace AzBillingPS;

/// <summary>Scopes as people read them in a table: the subscription or billing account id, its tail kept when it must be cut.</summary>
public static class AzScope
{
    /// <summary>
    /// The short form of a scope for a table column of <paramref name="width"/> characters: the last id of the scope
    /// (a subscription's GUID; "ba 8611537", "bp ...", "rg ..." for the others), cut from the front with "…" so
    /// the tail, which tells ids apart, stays. The full scope stays in the object's Scope property.
    /// </summary>
    public static string Short(string? scope, int width)
    {
        if (string.IsNullOrEmpty(scope))
        {
            return string.Empty;
        }

        string[] parts = scope.Trim('/').Split('/');
        string kind = string.Empty;
        string id = scope;
        for (int i = parts.Length - 2; i >= 0; i--)
        {
            string prefix = parts[i].ToLowerInvariant() switch
            {
                "subscriptions" => string.Empty,
                "resourcegroups" => "rg ",
                "billingaccounts" => "ba ",
                "billingprofiles" => "bp ",
                "invoicesections" => "is ",
                "departments" => "dept ",
                "enrollmentaccounts" => "acct ",
                "managementgroups" => "mg ",
                "customers" => "cust ",
                _ => "?",
            };
            if (prefix != "?")
            {
                kind = prefix;
                id = string.Join('/', parts[(i + 1)..]);
                break;
            }
        }

        string text = kind + id;
        width = Math.Max(width, kind.Length + 4);
        return text.Length <= width ? text : kind + "…" + id[^(width - kind.Length - 1)..];
    }

    /// <summary>A scope or scope pattern in the stored spelling (lower-case, one leading slash; a bare GUID is a subscription).</summary>
    internal static string Pattern(string scope)
        => WildcardPattern.ContainsWildcardCharacters(scope) ? "/" + scope.Trim().Trim('/').ToLowerInvariant() : CostScope.Normalize(scope);
}
