# Help source for New-AzCostReport. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Requests Azure Cost Management cost-details reports: one AzCostReport per scope, metric and calendar month.'

    Description  = @'
New-AzCostReport calls the Cost Management generateCostDetailsReport API for each scope, metric and month, waits for each report as the service asks, and writes one AzCostReport per (scope, metric, month) holding its manifest: the blobs, their sizes and when their links expire (ValidTill). Pipe the reports to Save-AzCostBlob to download the files, then to Import-AzCostToSql.

Scopes: -Scope takes a full ARM scope (/subscriptions/{id}; /providers/Microsoft.Billing/billingAccounts/{id} for an EA enrollment or an MCA billing account; .../departments/{id}; .../enrollmentAccounts/{id}; .../billingProfiles/{id}; .../billingProfiles/{id}/invoiceSections/{id}; .../customers/{id}) or a bare subscription GUID, and binds from the pipeline by property name, so a list of objects with a Scope property can be piped in. The short forms -SubscriptionId, -BillingAccountId, -BillingProfileId, -InvoiceSectionId, -CustomerId, -DepartmentId and -EnrollmentAccountId build the same scopes. Resource groups (not accepted since api-version 2023-08-01) and management groups (never accepted) are refused before any call, with the scope to use instead. Scopes are written lower-case with one leading slash, the spelling Import-AzCostToSql stores.

Period: -From and -To (dates, -To inclusive; -From alone runs to today), -BillingPeriod yyyyMM (Enterprise Agreement scopes), or -InvoiceId (MCA billing-profile or customer scopes). Without any, the current month to date. A range is split into calendar months, because one report covers at most one month. The API keeps 13 months: an older -From, a future -From, or a -To before -From is refused before any call; a -To after today is clamped to today (UTC).

The service is slow and rate limited, and the command is patient with it: a 202 answer is polled at the Location it gives after its Retry-After (20 seconds when absent, capped at 2 minutes, with jitter). 429 and 503 answers wait for the largest of Retry-After and every x-ms-ratelimit-*-retry-after header; other 5xx answers, timeouts and dropped connections are retried with jittered exponential back-off (at most 8 in a row). Every such wait is a warning and shows in the progress bar. A 401 renews the token once and retries. Calls are paced on the client so a large job stays under the published limits: 2 calls a minute per scope, 2 polls a minute per report, 10 calls a minute per tenant for subscription scopes; the pacing is shared by every command in the session. Each report is bounded by -Timeout, after which it is an error, not a hang. Ctrl+C cancels every outstanding call and wait at once.

Reports with no data (204, or status NoDataFound) are written with Status NoDataFound and no blobs, with a warning. Failures are non-terminating errors for that report; the other reports still come out:
- AzBillingPermissionDenied (403): names the scope and the role it needs (Cost Management Reader, or a billing reader role).
- AzBillingNotFound (404): names the scope.
- AzBillingUnsupported (422, and resource-group or management-group scopes): pay-as-you-go (WebDirect), MSDN and Visual Studio offers are not supported by the API; use Cost Management exports.
- AzBillingServiceError: status Failed, a 400 or repeated 5xx; the service's code is in the message and in ErrorDetails.
- AzBillingThrottled, AzBillingTimeout: -Timeout ran out while waiting.
- AzBillingInvalidArgument: a period or scope the API would refuse (terminating for period mistakes, which concern every scope).

Reports are written in a stable order (scopes in input order, months ascending, metrics in -Metric order), whatever order they complete in. Blob links are SAS URLs: the Link property, the views and ToString() show them with the signature replaced by REDACTED; GetBlobLink() on a blob returns the full link. ToJson() (or -AsJson) gives the service's answer with the signatures redacted, to keep the manifest.

Calls are paced client-side to the Cost Details API's published limits (per scope, per tenant or billing account, per report's polls and per client application), and back-off after failures grows with jitter. Waits the service asks for (Retry-After and the x-ms-ratelimit headers) are always honoured. -ThrottleLimit bounds the reports in flight of this cmdlet; Sync-AzBilling keeps as many in flight as the limits allow.
'@

    Parameters   = @{
        Token               = 'The AzBillingToken from Get-AzBillingToken; binds from the pipeline. It is renewed when fewer than five minutes remain and once more after a 401, and each report carries it for later stages.'
        Scope               = 'One or more ARM scopes: /subscriptions/{id}, a bare subscription GUID, or a Microsoft.Billing scope (billing account, department, enrollment account, billing profile, invoice section, customer). Binds from the pipeline by property name.'
        SubscriptionId      = 'Short form: one or more subscription ids (GUIDs); each becomes /subscriptions/{id}.'
        BillingAccountId    = 'Short form: the billing account id (EA enrollment number, or an MCA id such as 12345678:1234abcd-..._2019-05-31). Alone it means the billing account scope; with -BillingProfileId, -CustomerId, -DepartmentId or -EnrollmentAccountId it is their parent.'
        BillingProfileId    = 'Short form: an MCA billing profile under -BillingAccountId.'
        InvoiceSectionId    = 'Short form: an MCA invoice section under -BillingProfileId.'
        CustomerId          = 'Short form: a partner (CSP) customer under -BillingAccountId.'
        DepartmentId        = 'Short form: an EA department (under -BillingAccountId when given).'
        EnrollmentAccountId = 'Short form: an EA enrollment account (under -BillingAccountId when given).'
        From                = 'First day of the period. With no -To, the period runs to today. Split into calendar months.'
        To                  = 'Last day of the period, inclusive. A date after today is clamped to today (UTC). With no -From, the period starts on the first of the -To month.'
        BillingPeriod       = 'An Enterprise Agreement billing period, yyyyMM (for example 202609). Not for MCA scopes.'
        InvoiceId           = 'A Microsoft Customer Agreement invoice id; billing-profile and customer scopes only. The report covers what the invoice covers; PeriodStart and PeriodEnd stay empty.'
        Metric              = 'ActualCost (default), AmortizedCost, or both; one report per metric.'
        ApiVersion          = 'The Cost Management api-version. Default 2025-03-01, the newest stable one; the manifest''s version equals it.'
        ThrottleLimit       = 'How many reports are requested and polled at once (1-16). Default 2: the API''s limits are per tenant, so more rarely helps.'
        Timeout             = 'How long one report may take, waits included, before it fails with AzBillingTimeout. A TimeSpan, or a number of seconds. Default one hour.'
        AsJson              = 'Write each report as JSON (the service''s answer with SAS signatures redacted) instead of an AzCostReport object.'
    }

    Examples     = @(
        @{
            Title   = 'Last quarter for a subscription, both metrics'
            Code    = @'
Get-AzBillingToken -ManagedIdentity |
    New-AzCostReport -Scope /subscriptions/$sub -From 2026-07-01 -To 2026-09-30 -Metric ActualCost, AmortizedCost
'@
            Remarks = 'Six reports: three months times two metrics, written in month order.'
        }
        @{
            Title   = 'The whole pipeline into SQL'
            Code    = @'
Get-AzBillingToken -TenantId $t -ClientId $c -CertificatePath ./app.pfx |
    New-AzCostReport -BillingAccountId 1234567 -BillingPeriod 202609 |
    Save-AzCostBlob -Path ./costs |
    Import-AzCostToSql -ConnectionString $cs
'@
            Remarks = 'An EA enrollment''s September, downloaded and loaded exactly once.'
        }
        @{
            Title   = 'Many subscriptions from a list'
            Code    = @'
$token = Get-AzBillingToken -ManagedIdentity
Import-Csv ./subscriptions.csv | New-AzCostReport -Token $token -From 2026-10-01 -ThrottleLimit 4
'@
            Remarks = 'The CSV has a Scope column; each row binds to -Scope by property name.'
        }
        @{
            Title   = 'One MCA invoice, amortized'
            Code    = '$token | New-AzCostReport -BillingAccountId $mcaAccount -BillingProfileId $profile -InvoiceId G012345678 -Metric AmortizedCost'
            Remarks = 'What the invoice covers, for a Microsoft Customer Agreement billing profile. PeriodStart and PeriodEnd stay empty; Import-AzCostToSql then takes the period from the files.'
        }
        @{
            Title   = 'Keep the manifest'
            Code    = '$token | New-AzCostReport -SubscriptionId $sub -AsJson | Set-Content ./manifest-2026-11.json'
            Remarks = 'The JSON has the blob links with their SAS signatures redacted.'
        }
    )

    Inputs       = @(
        @{ Type = 'AzBillingPS.AzBillingToken'; Description = 'The token, from Get-AzBillingToken.' }
        @{ Type = 'System.String'; Description = 'Scopes, by property name Scope.' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostReport'; Description = 'One per scope, metric and month: Scope, Metric, PeriodStart, PeriodEnd, Status, OperationId, RequestedAt, CompletedAt, ManifestVersion, DataFormat, CompressData, BlobCount, ByteCount, ValidTill, Blobs, Token.' }
        @{ Type = 'System.String'; Description = 'With -AsJson: the report as JSON, SAS signatures redacted.' }
    )

    Notes        = 'Needs Cost Management Reader (or Reader) on subscription scopes, or a billing reader role on billing scopes. Microsoft refreshes cost details about every 4 hours and suggests Cost Management exports above about 2 GB a month.'

    RelatedLinks = @(
        @{ Text = 'Get-AzBillingToken' }
        @{ Text = 'Save-AzCostBlob' }
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'about_AzBillingPS' }
    )
}
