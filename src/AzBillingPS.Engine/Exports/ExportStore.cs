using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using System.Xml;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Exports;

/// <summary>One file or blob under an export root: its name relative to the root ('/'-separated) and its length.</summary>
public sealed record ExportStoreItem(string Name, long Length);

/// <summary>
/// Where exports are read from: a local folder tree (as azcopy sync or Storage Explorer leave it) or a storage container
/// (by a container SAS URL, or by account and container with an Entra token). Names are relative to the root and use '/'.
/// </summary>
public interface IExportStore : IDisposable
{
    /// <summary>The root, for messages and the state table (never a SAS signature or token).</summary>
    string Describe();

    /// <summary>Every file under the root, paged as the store pages.</summary>
    IAsyncEnumerable<ExportStoreItem> ListAsync(IEngineLog log, CancellationToken cancellationToken);

    /// <summary>A small file (a manifest) read whole; refuses one longer than <paramref name="maxBytes"/>.</summary>
    Task<byte[]> ReadAllAsync(string name, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// The file as a local path to read: the file itself for a local tree; for a container, the blob downloaded into
    /// <paramref name="workFolder"/> (streamed, length-checked against <paramref name="expectedBytes"/>).
    /// </summary>
    Task<string> FetchAsync(string name, long? expectedBytes, string workFolder, IEngineLog log, IProgress<long>? bytes, CancellationToken cancellationToken);

    /// <summary>True when <see cref="FetchAsync"/> downloads (the files it returns are the module's own, removed after the load).</summary>
    bool Downloads { get; }
}

/// <summary>A local folder tree. Symbolic links are never followed (files and folders behind them are not listed).</summary>
public sealed class LocalExportStore : IExportStore
{
    private readonly string _root;

    public LocalExportStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _root = Path.GetFullPath(root);
        if (!Directory.Exists(_root))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"The export folder does not exist: {_root}") { FilePath = _root };
        }
    }

    public bool Downloads => false;

    public string Describe() => _root;

    public async IAsyncEnumerable<ExportStoreItem> ListAsync(IEngineLog log, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = FileAttributes.ReparsePoint, // never through a symbolic link
            IgnoreInaccessible = true,
            ReturnSpecialDirectories = false,
            MatchType = MatchType.Simple,
        };
        foreach (string file in Directory.EnumerateFiles(_root, "*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = new FileInfo(file);
            yield return new ExportStoreItem(Path.GetRelativePath(_root, file).Replace('\\', '/'), info.Length);
        }
    }

    public async Task<byte[]> ReadAllAsync(string name, long maxBytes, CancellationToken cancellationToken)
    {
        string path = PathOf(name);
        var info = new FileInfo(path);
        if (info.Length > maxBytes)
        {
            throw new EngineException(EngineErrorKind.ExportManifestInvalid, string.Create(CultureInfo.InvariantCulture, $"{path}: {info.Length:N0} bytes is too large for an export manifest.")) { FilePath = path };
        }

        return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
    }

    public Task<string> FetchAsync(string name, long? expectedBytes, string workFolder, IEngineLog log, IProgress<long>? bytes, CancellationToken cancellationToken)
    {
        string path = PathOf(name);
        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.ExportRunIncomplete, $"{path}: the part the manifest lists is missing.") { FilePath = path };
        }

        return Task.FromResult(path);
    }

    private string PathOf(string name)
    {
        string path = Path.GetFullPath(Path.Combine(_root, name.Replace('/', Path.DirectorySeparatorChar)));
        string rel = Path.GetRelativePath(_root, path);
        if (rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel))
        {
            throw new EngineException(EngineErrorKind.ExportManifestInvalid, $"'{name}' lies outside the export folder {_root}.");
        }

        // A part reached through a symbolic link the module did not make is refused.
        for (string? p = path; p is not null && p.Length > _root.Length; p = Path.GetDirectoryName(p))
        {
            if (File.Exists(p) || Directory.Exists(p))
            {
                if (new FileInfo(p).LinkTarget is not null)
                {
                    throw new EngineException(EngineErrorKind.ExportRunIncomplete, $"{path}: reached through a symbolic link ({p}); export parts are only read from real files.") { FilePath = path };
                }
            }
        }

        return path;
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// A storage container: listed with List Blobs (paged by NextMarker, parsed with an XmlReader), manifests read with
/// Get Blob, parts downloaded with the engine's <see cref="BlobDownloader"/> (streamed, resumed with Range, length and
/// Content-MD5 checked). Reached by a container SAS URL, or by the account endpoint and container with an Entra token
/// (sent only as <see cref="TokenEndpoint"/> allows: https to the account's own host and port, loopback http only for an
/// emulator). Redirects are never followed, and a listing's continuation is a marker, never an address.
/// </summary>
public sealed class BlobContainerStore : IExportStore
{
    /// <summary>The Blob service version the requests ask for (supports bearer tokens and List Blobs paging).</summary>
    public const string ServiceVersion = "2023-11-03";

    private const int MaxAttempts = 4;
    private readonly Uri _container; // https://account.blob.core.windows.net/container (no query)
    private readonly string? _sas;    // the SAS query without '?', or null
    private readonly string _prefix;  // folder inside the container ('' or ending with '/')
    private readonly Func<CancellationToken, Task<string>>? _token;
    private readonly TokenEndpoint? _endpoint;
    private readonly HttpClient _http;
    private readonly BlobDownloader _downloader;

    private BlobContainerStore(Uri container, string? sas, string? prefix, Func<CancellationToken, Task<string>>? token, TokenEndpoint? endpoint, BlobDownloaderOptions? options)
    {
        _container = container;
        _sas = sas;
        _prefix = string.IsNullOrEmpty(prefix?.Trim('/')) ? string.Empty : prefix.Trim('/') + "/";
        _token = token;
        _endpoint = endpoint;
        _http = new HttpClient(TokenEndpoint.CreateHandler(), disposeHandler: true) { Timeout = TimeSpan.FromMinutes(5) };
        _downloader = new BlobDownloader(options);
    }

    public bool Downloads => true;

    /// <summary>A container reached by its SAS URL (https, or http to a loopback address).</summary>
    public static BlobContainerStore FromSasUrl(Uri containerSasUrl, string? prefix, BlobDownloaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(containerSasUrl);
        BlobLink.EnsureAllowed(containerSasUrl);
        string query = containerSasUrl.Query.TrimStart('?');
        if (!query.Contains("sig=", StringComparison.OrdinalIgnoreCase))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"'{SasRedactor.Redact(containerSasUrl)}' is not a container SAS URL (it has no sig= signature); with an Entra token give the account and container instead.");
        }

        string path = containerSasUrl.AbsolutePath.TrimEnd('/');
        if (path.Length == 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"'{SasRedactor.Redact(containerSasUrl)}' names no container.");
        }

        var container = new Uri(containerSasUrl.GetLeftPart(UriPartial.Authority) + path);
        return new BlobContainerStore(container, query, prefix, null, null, options);
    }

    /// <summary>
    /// A container reached with an Entra token: <paramref name="accountEndpoint"/> is the account's blob endpoint
    /// (https://account.blob.core.windows.net, or an emulator's http://127.0.0.1:port/account).
    /// </summary>
    public static BlobContainerStore WithToken(Uri accountEndpoint, string container, string? prefix, Func<CancellationToken, Task<string>> token, BlobDownloaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(accountEndpoint);
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrWhiteSpace(container);
        if (!string.IsNullOrEmpty(accountEndpoint.Query) || !string.IsNullOrEmpty(accountEndpoint.UserInfo))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The storage account endpoint '{SasRedactor.Redact(accountEndpoint)}' must be a plain URL (no query, no user name).");
        }

        var endpoint = new Uri(TokenEndpoint.RequireEndpoint(accountEndpoint, "StorageAccount").GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
        var uri = new Uri(endpoint, Uri.EscapeDataString(container.Trim('/')));
        return new BlobContainerStore(uri, null, prefix, token, TokenEndpoint.For(endpoint, "storage account", "StorageAccount"), options);
    }

    public string Describe() => _container.AbsoluteUri + (_prefix.Length > 0 ? "/" + _prefix.TrimEnd('/') : string.Empty);

    public async IAsyncEnumerable<ExportStoreItem> ListAsync(IEngineLog log, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? marker = null;
        int page = 0;
        do
        {
            // The marker only ever continues this listing: it goes back as a query value (escaped) to this container's
            // own address, never as an address, so a listing cannot send the next request (or the SAS) anywhere else.
            var query = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"restype=container&comp=list&maxresults={InternalHooks.ListPageSize}"));
            if (_prefix.Length > 0)
            {
                query.Append("&prefix=").Append(Uri.EscapeDataString(_prefix));
            }

            if (marker is not null)
            {
                query.Append("&marker=").Append(Uri.EscapeDataString(marker));
            }

            Uri url = Address(null, query.ToString());
            page++;
            log.Debug(string.Create(CultureInfo.InvariantCulture, $"Listing {Describe()}, page {page}."));
            List<ExportStoreItem> items;
            (items, marker) = await SendAsync(url, "list the blobs of " + Describe(), ParseListing, cancellationToken).ConfigureAwait(false);
            foreach (ExportStoreItem item in items)
            {
                yield return item;
            }
        }
        while (!string.IsNullOrEmpty(marker));
    }

    public Task<byte[]> ReadAllAsync(string name, long maxBytes, CancellationToken cancellationToken)
        => SendAsync(Address(name, null), "read " + name, async (content, ct) =>
        {
            if (content.Headers.ContentLength > maxBytes)
            {
                throw new EngineException(EngineErrorKind.ExportManifestInvalid, string.Create(CultureInfo.InvariantCulture, $"{name}: {content.Headers.ContentLength:N0} bytes is too large for an export manifest.")) { FilePath = name };
            }

            return await content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    public async Task<string> FetchAsync(string name, long? expectedBytes, string workFolder, IEngineLog log, IProgress<long>? bytes, CancellationToken cancellationToken)
    {
        string file = Path.Combine(workFolder, SafeFileName(name));
        var request = new BlobDownloadRequest(Address(name, null), file, expectedBytes ?? 0, Decompress: false, Force: true)
        {
            Description = $"{Describe()}/{name}",
            BearerToken = _token,
            TokenEndpoint = _endpoint,
            RefusedAdvice = _token is null
                ? "Check that the container SAS URL is current and allows read (r) and list (l)."
                : "Check that the identity has the Storage Blob Data Reader role on the account or container.",
            NotFoundAdvice = "The manifest lists a part that is not in the container (deleted, or the run is still being written); the month is not loaded.",
        };
        try
        {
            BlobDownloadOutcome outcome = await _downloader.DownloadAsync(request, log, bytes, cancellationToken).ConfigureAwait(false);
            return outcome.Path;
        }
        catch (EngineException e) when (e.Kind == EngineErrorKind.NotFound)
        {
            throw new EngineException(EngineErrorKind.ExportRunIncomplete, e.Message, e) { FilePath = name };
        }
    }

    /// <summary>A blob's file name in the work folder: its path with separators turned into '~', so two parts never collide.</summary>
    private static string SafeFileName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            sb.Append(c is '/' or '\\' or ':' || char.IsControl(c) ? '~' : c);
        }

        string s = sb.ToString().TrimStart('.');
        return s.Length > 200 ? s[^200..] : s;
    }

    private Uri Address(string? blob, string? query)
    {
        string url = _container.AbsoluteUri;
        if (blob is not null)
        {
            url += "/" + string.Join('/', blob.Split('/').Select(Uri.EscapeDataString));
        }

        string q = string.Join('&', new[] { query, _sas }.Where(x => !string.IsNullOrEmpty(x)));
        return new Uri(q.Length > 0 ? url + "?" + q : url);
    }

    private async Task<T> SendAsync<T>(Uri url, string what, Func<HttpContent, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, url);
            message.Headers.TryAddWithoutValidation("x-ms-version", ServiceVersion);
            if (_token is not null)
            {
                _endpoint!.Authorize(message, await _token(cancellationToken).ConfigureAwait(false), "The request to " + what);
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt * attempt), cancellationToken).ConfigureAwait(false);
                _ = e;
                continue;
            }
            catch (HttpRequestException e)
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"Could not {what}: {Scrub(e.Message)}");
            }

            using (response)
            {
                int status = (int)response.StatusCode;
                if (status is 200)
                {
                    return await read(response.Content, cancellationToken).ConfigureAwait(false);
                }

                if (status is 408 or 429 or 500 or 502 or 503 or 504 && attempt < MaxAttempts)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt * attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                throw await RefusedAsync(response, what, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<EngineException> RefusedAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string? code = response.Headers.TryGetValues("x-ms-error-code", out IEnumerable<string>? codes) ? codes.FirstOrDefault() : null;
        string? requestId = response.Headers.TryGetValues("x-ms-request-id", out IEnumerable<string>? ids) ? ids.FirstOrDefault() : null;
        string body = string.Empty;
        try
        {
            byte[] raw = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            body = Encoding.UTF8.GetString(raw, 0, Math.Min(raw.Length, 4096));
        }
        catch (HttpRequestException)
        {
        }

        string? detail = Element(body, "Message")?.Split('\n')[0].Trim();
        string answer = string.Create(CultureInfo.InvariantCulture, $"{status} {code ?? response.ReasonPhrase}").Trim();
        string text = Scrub($"Could not {what}: the storage service answered {answer}{(detail is null ? "." : ": " + detail)}");
        (EngineErrorKind kind, string advice) = status switch
        {
            401 => (EngineErrorKind.AuthenticationFailed, _token is null ? "The SAS URL was not accepted: check it is current." : "The storage service did not accept the token: get one for https://storage.azure.com/.default."),
            403 => (EngineErrorKind.PermissionDenied, _token is null
                ? "Check that the container SAS URL is current and allows read (r) and list (l)."
                : "The storage service refused the token: give the identity the Storage Blob Data Reader role on the account or container (and check the account's network rules)."),
            404 => (EngineErrorKind.NotFound, "Check the account, container and folder names."),
            _ => (EngineErrorKind.ServiceError, string.Empty),
        };
        return new EngineException(kind, (text + " " + advice).Trim()) { ServiceCode = code, CorrelationId = requestId };
    }

    private string Scrub(string text) => _sas is null ? text : SyncScrub(text);

    private string SyncScrub(string text)
    {
        string result = text;
        foreach (string part in _sas!.Split('&'))
        {
            if (part.StartsWith("sig=", StringComparison.OrdinalIgnoreCase) && part.Length > 4)
            {
                string sig = part[4..];
                result = result.Replace(sig, SasRedactor.Placeholder, StringComparison.Ordinal).Replace(Uri.UnescapeDataString(sig), SasRedactor.Placeholder, StringComparison.Ordinal);
            }
        }

        return result;
    }

    private static string? Element(string xml, string name)
    {
        int start = xml.IndexOf("<" + name + ">", StringComparison.Ordinal);
        int end = start < 0 ? -1 : xml.IndexOf("</" + name + ">", start, StringComparison.Ordinal);
        return start < 0 || end < 0 ? null : WebUtility.HtmlDecode(xml[(start + name.Length + 2)..end]);
    }

    /// <summary>Parses one List Blobs page: each Blob's Name and Content-Length, and the NextMarker.</summary>
    internal static async Task<(List<ExportStoreItem> Items, string? NextMarker)> ParseListing(HttpContent content, CancellationToken cancellationToken)
    {
        await using Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return ParseListing(stream);
    }

    internal static (List<ExportStoreItem> Items, string? NextMarker) ParseListing(Stream stream)
    {
        var items = new List<ExportStoreItem>();
        string? next = null;
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreWhitespace = true, IgnoreComments = true };
        using XmlReader xml = XmlReader.Create(stream, settings);
        string? name = null;
        long length = 0;
        int depthBlob = -1;
        bool read = xml.Read();
        while (read)
        {
            if (xml.NodeType == XmlNodeType.Element && xml.LocalName == "Blob")
            {
                depthBlob = xml.Depth;
                name = null;
                length = 0;
            }
            else if (xml.NodeType == XmlNodeType.Element && xml.LocalName == "Name" && depthBlob >= 0 && xml.Depth == depthBlob + 1)
            {
                name = xml.ReadElementContentAsString();
                read = !xml.EOF;
                continue; // ReadElementContentAsString moved past the end tag
            }
            else if (xml.NodeType == XmlNodeType.Element && xml.LocalName == "Content-Length" && depthBlob >= 0)
            {
                _ = long.TryParse(xml.ReadElementContentAsString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out length);
                read = !xml.EOF;
                continue;
            }
            else if (xml.NodeType == XmlNodeType.Element && xml.LocalName == "NextMarker" && depthBlob < 0)
            {
                next = xml.ReadElementContentAsString();
                read = !xml.EOF;
                continue;
            }
            else if (xml.NodeType == XmlNodeType.EndElement && xml.LocalName == "Blob")
            {
                if (name is not null)
                {
                    items.Add(new ExportStoreItem(name, length));
                }

                depthBlob = -1;
            }

            read = xml.Read();
        }

        return (items, string.IsNullOrWhiteSpace(next) ? null : next);
    }

    public void Dispose()
    {
        _http.Dispose();
        _downloader.Dispose();
    }
}
