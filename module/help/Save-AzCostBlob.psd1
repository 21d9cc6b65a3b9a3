# Help source for Save-AzCostBlob. build/New-ModuleHelp.ps1 turns this into MAML (en-US/AzBillingPS.dll-Help.xml).
# Every parameter of the cmdlet needs an entry under Parameters; the build fails otherwise.
@{
    Synopsis     = 'Downloads every blob of Azure cost-details reports to a folder: streamed, in parallel, resumable and verified; one AzCostFile per blob.'

    Description  = @'
Save-AzCostBlob takes the AzCostReport objects that New-AzCostReport writes and saves every blob of each report's manifest as a file in the folder given by -Path or -LiteralPath (created when missing). A report with five blobs gives five files, never one file overwritten five times. It writes one AzCostFile per blob (path, bytes, scope, metric, period, blob index and count, and the report's operation id), which Import-AzCostToSql takes from the pipeline and loads report by report.

FILE NAMES. Names are stable and tell what a file holds: <scope>_<metric>_<yyyyMMdd>-<yyyyMMdd>_<index>of<count>.csv, for example subscriptions-5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f_ActualCost_20260301-20260331_1of3.csv. The scope part is the lower-case scope with '/' turned into '-' (and providers/microsoft.billing/ left out); when characters a file system may refuse had to be replaced (for example ':' in MCA billing account ids) or the scope is very long, eight hex digits of the scope's SHA-256 are added, so two scopes never share a name. Reports requested by -InvoiceId use invoice-<id> in place of the dates. Nothing from the blob link ever goes into a name.

HOW A BLOB IS SAVED. The blob streams straight to disk through one bounded buffer (memory stays flat for multi-GB blobs) into <name>.partial, with a small <name>.partial.state beside it (the blob's address without its signature, its length and its ETag). When the last byte is in, the length is checked against the manifest's byteCount and, when the storage service sends one, the blob's Content-MD5 against the bytes written; only then is the file renamed to its final name. A file with its final name is therefore always complete; after any failure only .partial files remain. Every file is created new and readable by you only (0600 on Unix), never through a symbolic link: a link or another user's file under one of these names (final, .partial, .partial.state) stops that blob with AzBillingUnsafeFile and is left as it is, and a .partial is resumed only when it is a regular file you own.

RESUMING AND RETRIES. A dropped or stalled connection (nothing received for 100 seconds) is resumed with an HTTP Range request from the bytes already written, with If-Match on the blob's ETag so a blob that changed meanwhile starts again from the first byte; up to 5 resumes per blob. A .partial left by a killed or failed run is resumed the same way when the command runs again. A blob fetched in ranges resumes each dropped range from its last byte (up to 5 times per range); its .partial.state also lists the ranges that are complete, so a later run fetches only the others (the last range is always fetched again, to check the ETag and get the Content-MD5), and its Content-MD5 is checked by hashing the file in order as the ranges complete. Answers 500, 502, 503, 504, 408 and 429, refused connections and timeouts before an answer are retried up to 4 times with jittered exponential back-off (from 0.5 seconds, honouring Retry-After, at most 30 seconds).

EXISTING FILES. A file already there with the manifest's length is kept and not downloaded again (its AzCostFile says Skipped); -Force downloads it again. A file there with another length is replaced, with a warning. A decompressed file cannot be compared with the compressed length, so it is kept whenever it exists (files only get their final name once verified).

COMPRESSION. When the report says compressData, blobs are gzip: by default they are decompressed while saving, to .csv; -Decompress:$false keeps them as .csv.gz. Reports without compressData are saved as they come, whatever -Decompress says.

PARALLELISM AND PROGRESS. Blobs download in parallel across and within reports, at most -ThrottleLimit at a time. A blob of 32 MiB or more is itself fetched as 16 MiB ranges over up to 8 connections at once, each range written in place in its .partial (over a long-distance link one connection gets a fraction of the bandwidth; several get several times that, as AzCopy does). All the downloads of one command share at most 8 connections, or -ThrottleLimit when that is higher, so large blobs downloading together share the connections instead of multiplying them. Files come out in a stable order (reports in input order, blobs by index), each report as soon as all of its blobs are saved. The progress bar shows megabytes done of the total, the throughput in MB/s and the files done.

EXPIRING LINKS. Blob links are SAS URLs that expire at the report's ValidTill. A link that has expired, or expires within a minute, is not started: the report gets one BlobLinkExpired error telling to request the report again. With -Refresh, a report that still carries its token (as New-AzCostReport writes it) is requested again with the same scope, metric and period, and its blobs are saved from the fresh links; this also happens once when links expire while a report is being saved.

SECURITY. Links must use https; plain http is only accepted to loopback addresses (emulators and tests). The signature of a link (its sig parameter) never appears in output, verbose or debug text, warnings, errors or file names: links are shown with sig=REDACTED.

ERRORS. Each failed report is a non-terminating error whose target is the report; other reports go on. A report with a failed blob writes no AzCostFile (its complete files stay on disk and are kept next time), so Import-AzCostToSql never loads half a report. Match on FullyQualifiedErrorId:
- BlobLinkExpired: the report's links expired (or expire within a minute); request it again, or use -Refresh.
- AzBillingAuthenticationFailed: the storage service answered 403 AuthenticationFailed (the storage error code and request id are in ErrorDetails).
- AzBillingPermissionDenied: another 403 from the storage service (for example AuthorizationFailure).
- AzBillingNotFound: the blob is gone (404).
- AzBillingServiceError: retries or resumes ran out (the .partial is kept for the next run), the blob's length differs from the manifest, or its bytes do not match its Content-MD5 (the download is discarded).
- AzBillingInvalidArgument: a link that does not use https to a non-loopback host.
- BlobReportNotCompleted: a report whose status is neither Completed nor NoDataFound.
A report with status NoDataFound, or no blobs, writes nothing (a verbose line says so).
'@

    Parameters   = @{
        Report        = 'AzCostReport objects, as New-AzCostReport writes them; binds from the pipeline. Each report''s blobs are saved; a report piped twice is saved once.'
        Path          = 'The folder the files are saved in; created (private to you) when missing. Relative paths resolve against the current location. Wildcards are allowed when they match exactly one existing folder. A folder another user owns, or that others can write to (unless sticky, like /tmp), is refused (AzBillingUnsafeFolder); so is a symbolic link to a folder that is not yours alone.'
        LiteralPath   = 'The folder the files are saved in, taken literally (no wildcard expansion; use it for names holding [ or ]); created (private to you) when missing. Checked like -Path.'
        Decompress    = 'For reports whose blobs are gzip (CompressData): decompress them while saving, to .csv files (the default). -Decompress:$false keeps the blobs as they are, in .csv.gz files. Reports without CompressData are not affected.'
        Force         = 'Download every blob again, even when a complete file is already there, and ignore a .partial left by an earlier run.'
        ThrottleLimit = 'How many blobs download at the same time, across all reports. Default 4; 1 to 64. Blobs of 32 MiB or more each use up to 8 connections (16 MiB ranges); all downloads together use at most 8 connections, or this many when it is higher.'
        MaxGzipRatio  = 'How many times its compressed size a gzip blob may inflate to (default 100; never less than 64 MB). Cost-details CSV compresses about 10 to 25 times, so a blob that inflates further is not one (a gzip bomb would fill the disk): it stops with AzBillingDecompressionLimit and nothing of it is kept. Raise it only for a blob you trust.'
        Refresh       = 'When a report''s blob links have expired (or expire within a minute), request the report again with the token it carries and save the blobs from the fresh links, instead of failing with BlobLinkExpired. Reports without a token (for example built by hand) still fail.'
        WhatIf        = 'Lists each file that would be saved, with its blob index, size and report, without downloading anything or creating the folder.'
        Confirm       = 'Asks for confirmation before each file is saved. Declining some blobs of a report leaves it incomplete, so Import-AzCostToSql will not load it.'
    }

    Examples     = @(
        @{
            Title   = 'Request, download and load three months'
            Code    = @'
Get-AzBillingToken -TenantId $tenant -ClientId $app -CertificatePath ./app.pfx |
    New-AzCostReport -Scope /subscriptions/$sub -From 2026-01-01 -To 2026-03-31 |
    Save-AzCostBlob -Path ./costs |
    Import-AzCostToSql -DatabasePath ./billing.sqlite
'@
            Remarks = 'Each month''s report is saved blob by blob in ./costs and loaded as one unit as soon as all of its blobs are on disk. Running the line again keeps the complete files and replaces the three months in the database.'
        }
        @{
            Title   = 'Keep the reports, download later, and refresh expired links'
            Code    = @'
$reports = New-AzCostReport -Token $token -SubscriptionId $sub -From 2026-03-01 -To 2026-03-31 -Metric ActualCost, AmortizedCost
# ... hours later, after the links' ValidTill
$reports | Save-AzCostBlob -Path ./costs -Refresh -ThrottleLimit 8 -Verbose
'@
            Remarks = 'The links expired, so -Refresh requests each report again with its token and saves the fresh blobs, eight at a time. Verbose lines show each download, resume and retry.'
        }
        @{
            Title   = 'Preview, then save compressed blobs as they are into a folder with brackets in its name'
            Code    = @'
$reports | Save-AzCostBlob -LiteralPath './costs [2026]' -WhatIf
$reports | Save-AzCostBlob -LiteralPath './costs [2026]' -Decompress:$false -Force
'@
            Remarks = 'The first line lists the files it would write. The second downloads every blob again (-Force) and keeps gzip blobs as .csv.gz.'
        }
        @{
            Title   = 'Resume after an interrupted run'
            Code    = @'
$reports | Save-AzCostBlob -Path ./costs    # Ctrl+C, a lost network or a killed job part way
$reports | Save-AzCostBlob -Path ./costs    # complete files are kept, .partial files resume where they stopped
'@
            Remarks = 'Each .partial resumes with a Range request from its last byte, only if the blob''s ETag is unchanged; otherwise it starts again. The files that come out are byte-identical to the blobs.'
        }
    )

    Inputs       = @(
        @{ Type = 'AzBillingPS.AzCostReport'; Description = 'Reports from New-AzCostReport (parameter -Report).' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostFile'; Description = 'One per saved blob: Path, Bytes, Scope, Metric, PeriodStart, PeriodEnd, BlobIndex, BlobCount, OperationId and Skipped (true when a complete file was already there). Nothing is written for -WhatIf, for reports without data, or for a report whose blobs did not all save.' }
    )

    Notes        = @'
- Blob links are plain GETs of SAS URLs: no Azure sign-in is needed to download, only for -Refresh (through the report's token).
- A file gets its final name only after its last byte is written and verified, so a stopped or killed run never leaves a file that looks complete. Files are not forced to the storage device first (fsync), for speed: after a power loss, a raw file left short is downloaded again by the length check on the next run.
- Import-AzCostToSql loads .csv files; keep the default -Decompress when the files go on to it.
'@

    RelatedLinks = @(
        @{ Text = 'about_AzBillingPS' }
        @{ Text = 'New-AzCostReport' }
        @{ Text = 'Import-AzCostToSql' }
    )
}
