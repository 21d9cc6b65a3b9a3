using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// What the storage service says when it refuses a request, turned into an <see cref="EngineException"/>: the status,
/// its error code (x-ms-error-code or the XML body's Code), the first line of its message and, for a refused signature,
/// its AuthenticationErrorDetail; every copy of the link's signature scrubbed. Also the response headers a download reads.
/// </summary>
internal static class StorageError
{
    private const int MaxErrorBodyBytes = 16 * 1024;

    /// <summary>The error for a refused request (401/403 refused or expired, 404 gone, anything else a service error).</summary>
    public static async Task<EngineException> FromAsync(HttpResponseMessage response, BlobDownloadRequest request, string what, DateTimeOffset now, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        Uri link = request.Link;
        string? requestId = Header(response, "x-ms-request-id");
        string? code = Header(response, "x-ms-error-code");
        string body = await ReadBoundedAsync(response, ct).ConfigureAwait(false);
        code ??= XmlElement(body, "Code");
        string? detail = XmlElement(body, "Message");
        if (detail is not null)
        {
            detail = detail.Split('\n')[0].Trim();
            if (detail.Length > 300)
            {
                detail = string.Concat(detail.AsSpan(0, 300), "...");
            }

            string? why = XmlElement(body, "AuthenticationErrorDetail");
            if (!string.IsNullOrEmpty(why))
            {
                detail = detail.TrimEnd('.') + ". " + (why.Length > 300 ? string.Concat(why.AsSpan(0, 300), "...") : why);
            }

            detail = BlobLink.Scrub(detail, link);
        }

        string answer = string.Create(CultureInfo.InvariantCulture, $"{status} {code ?? response.ReasonPhrase ?? string.Empty}").TrimEnd();
        string text = $"{what}: the storage service refused {SasRedactor.Redact(link)} with {answer}{(detail is null ? "." : $": {detail}")}";
        EngineErrorKind kind;
        EngineAdvice advice = EngineAdvice.None;
        switch (status)
        {
            case 401:
            case 403:
                DateTimeOffset? expiry = BlobLink.Expiry(link, request.ValidTill);
                bool expired = expiry is DateTimeOffset e && e <= now;
                kind = expired ? EngineErrorKind.LinkExpired
                    : string.Equals(code, "AuthenticationFailed", StringComparison.OrdinalIgnoreCase) || status == 401 ? EngineErrorKind.AuthenticationFailed
                    : EngineErrorKind.PermissionDenied;
                string till = expiry is DateTimeOffset x ? string.Create(CultureInfo.InvariantCulture, $" (valid till {x.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)") : string.Empty;
                if (request.RefusedAdvice is { } refused)
                {
                    text += " " + refused;
                }
                else
                {
                    text += $" The link is a shared-access signature{till}: when it has expired or was revoked, the report has to be requested again for fresh links.";
                    advice = EngineAdvice.RequestReportAgain;
                }

                break;
            case 404:
                kind = EngineErrorKind.NotFound;
                text += " " + (request.NotFoundAdvice ?? "The blob is gone (reports are kept for a limited time): request the report again.");
                break;
            default:
                kind = EngineErrorKind.ServiceError;
                break;
        }

        return new EngineException(kind, text) { ServiceCode = code, CorrelationId = requestId, Advice = advice };
    }

    /// <summary>A header of the response or of its content, or null when absent or empty.</summary>
    public static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            string? v = values.FirstOrDefault();
            return string.IsNullOrEmpty(v) ? null : v;
        }

        return null;
    }

    /// <summary>The wait the service asks for (Retry-After as seconds or a date), or null.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? retry = response.Headers.RetryAfter;
        if (retry?.Delta is TimeSpan delta)
        {
            return delta;
        }

        if (retry?.Date is DateTimeOffset date)
        {
            TimeSpan d = date - DateTimeOffset.UtcNow;
            return d > TimeSpan.Zero ? d : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>
    /// The whole blob's MD5 when the answer carries it: Content-MD5 on a whole-blob answer (on a range answer it would be
    /// the range's), otherwise x-ms-blob-content-md5 (the whole blob's, sent with ranges too).
    /// </summary>
    public static byte[]? BlobMd5(HttpResponseMessage response, int status)
    {
        if (status == 200 && response.Content.Headers.ContentMD5 is { Length: 16 } whole)
        {
            return whole;
        }

        string? header = Header(response, "x-ms-blob-content-md5");
        if (header is null)
        {
            return null;
        }

        try
        {
            byte[] md5 = Convert.FromBase64String(header);
            return md5.Length == 16 ? md5 : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            Stream s = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            byte[] buffer = new byte[MaxErrorBodyBytes];
            int total = 0;
            while (total < buffer.Length)
            {
                int n = await s.ReadAsync(buffer.AsMemory(total), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return string.Empty;
        }
    }

    private static string? XmlElement(string body, string name)
    {
        Match m = Regex.Match(body, "<" + name + ">(.*?)</" + name + ">", RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value).Trim() : null;
    }
}
