using System;
using System.Text;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// Hides the signature of a shared-access-signature link (the <c>sig</c> query parameter) so a link can be shown,
/// logged or put in an error message. Everything else in the link (account, container, blob, expiry) stays.
/// </summary>
public static class SasRedactor
{
    public const string Placeholder = "REDACTED";

    public static string Redact(Uri? link) => link is null ? string.Empty : Redact(link.OriginalString);

    public static string Redact(string? link)
    {
        if (string.IsNullOrEmpty(link))
        {
            return string.Empty;
        }

        int q = link.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return link;
        }

        var sb = new StringBuilder(link.Length);
        sb.Append(link, 0, q + 1);
        string[] parts = link.Substring(q + 1).Split('&');
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                sb.Append('&');
            }

            string p = parts[i];
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? p : p.Substring(0, eq);
            if (name.Equals("sig", StringComparison.OrdinalIgnoreCase))
            {
                sb.Append(name).Append('=').Append(Placeholder);
            }
            else
            {
                sb.Append(p);
            }
        }

        return sb.ToString();
    }
}
