using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// The file name of one blob of one report: stable (the same report blob always gets the same name, so a re-run finds
/// what an earlier run left) and telling, for example
/// <c>subscriptions-5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f_ActualCost_20260301-20260331_2of3.csv</c>.
/// The scope part is the normalised scope with its separators turned into '-'; when that loses information (characters
/// a file system may refuse, such as ':' in MCA billing account ids) or is long, eight hex digits of the scope's
/// SHA-256 are added, so two scopes never share a name. Names never carry anything from the blob link.
/// </summary>
internal static class BlobFileName
{
    /// <summary>The longest scope part kept before it is shortened (the hash keeps it distinct).</summary>
    public const int MaxScopeLength = 96;

    private const string BillingPrefix = "providers/microsoft.billing/";

    /// <summary>The file name (no folder) for blob <paramref name="index"/> of <paramref name="count"/>.</summary>
    /// <param name="scope">The report's ARM scope (any spelling; it is normalised).</param>
    /// <param name="metric">ActualCost or AmortizedCost.</param>
    /// <param name="start">First day of the report's period.</param>
    /// <param name="end">Last day of the report's period (inclusive).</param>
    /// <param name="index">1-based index of the blob in the manifest.</param>
    /// <param name="count">How many blobs the manifest has.</param>
    /// <param name="gzip">True for a file kept gzip-compressed (<c>.csv.gz</c>); false for <c>.csv</c>.</param>
    public static string For(string scope, string metric, DateOnly start, DateOnly end, int index, int count, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(metric);
        if (count < 1 || index < 1 || index > count)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture, $"Blob index {index} of {count} is out of range: the index must be between 1 and the blob count."));
        }

        if (end < start)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, string.Create(CultureInfo.InvariantCulture, $"The period end {end:yyyy-MM-dd} is before its start {start:yyyy-MM-dd}."));
        }

        string m = metric.Trim();
        if (m.Length == 0 || !IsPlain(m))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The metric '{metric}' is not a metric name (letters and digits only, for example ActualCost).");
        }

        return string.Create(CultureInfo.InvariantCulture, $"{ScopeSlug(scope)}_{m}_{start:yyyyMMdd}-{end:yyyyMMdd}_{index}of{count}.csv{(gzip ? ".gz" : string.Empty)}");
    }

    /// <summary>
    /// The file name for a blob of a report requested by MCA invoice id (whose dates the invoice decides):
    /// <c>&lt;scope&gt;_&lt;metric&gt;_invoice-&lt;id&gt;_&lt;index&gt;of&lt;count&gt;.csv</c>.
    /// </summary>
    public static string ForInvoice(string scope, string metric, string invoiceId, int index, int count, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(invoiceId);
        string name = For(scope, metric, DateOnly.MinValue, DateOnly.MinValue, index, count, gzip);
        var id = new StringBuilder(invoiceId.Length);
        foreach (char c in invoiceId.Trim())
        {
            id.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        return name.Replace("_00010101-00010101_", "_invoice-" + id + "_", StringComparison.Ordinal);
    }

    /// <summary>The scope as it appears in file names.</summary>
    public static string ScopeSlug(string scope)
    {
        string normalized = CostScope.Normalize(scope);
        string s = normalized.TrimStart('/');
        if (s.StartsWith(BillingPrefix, StringComparison.Ordinal))
        {
            s = s.Substring(BillingPrefix.Length);
        }

        var sb = new StringBuilder(s.Length);
        bool lossy = false;
        foreach (char c in s)
        {
            if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.' or '_')
            {
                sb.Append(c);
            }
            else
            {
                lossy |= c != '/';
                sb.Append('-');
            }
        }

        string slug = sb.ToString().Trim('-', '.');
        if (slug.Length > MaxScopeLength)
        {
            slug = slug.Substring(0, MaxScopeLength).TrimEnd('-', '.');
            lossy = true;
        }

        if (lossy || slug.Length == 0)
        {
            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(normalized));
            slug = (slug.Length == 0 ? "scope" : slug) + "-" + Convert.ToHexString(hash, 0, 4).ToLowerInvariant();
        }

        return slug;
    }

    private static bool IsPlain(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
