#Requires -Version 7.4
# The Azure test fixture itself (tests/AzBillingPS.Fixture), checked over real HTTP with Invoke-WebRequest: ARM's
# bearer-token checks, the cost-details 202 -> 200 flow, injected faults, the service's 400s, the subscription
# list and the blob fault proxy. The module's own tests rely on these behaviours.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoFixture = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:F = Start-TestAzureFixture
    $script:Today = [DateTime]::UtcNow.Date
    $script:Month = $Today.ToString('yyyy-MM')

    function Get-FixtureToken {
        $t = Invoke-RestMethod -SkipCertificateCheck -Method Post "$($F.Https)/$($F.TenantId)/oauth2/v2.0/token" -Body @{
            grant_type = 'client_credentials'; client_id = $F.ClientId; client_secret = $F.ClientSecret; scope = "$($F.Https)/.default"
        }
        $t.access_token
    }

    function Invoke-Cost {
        param([string] $Method = 'POST', [string] $Uri, $Body, [string] $Token = $script:Token, [string] $RawBody)
        $p = @{ Method = $Method; Uri = $Uri; SkipCertificateCheck = $true; SkipHttpErrorCheck = $true }
        if ($Token) { $p.Headers = @{ Authorization = "Bearer $Token" } }
        if ($PSBoundParameters.ContainsKey('RawBody')) { $p.Body = $RawBody; $p.ContentType = 'application/json' }
        elseif ($null -ne $Body) { $p.Body = ($Body | ConvertTo-Json -Depth 5 -Compress); $p.ContentType = 'application/json' }
        Invoke-WebRequest @p
    }

    function Get-PostUri([string] $Scope, [string] $ApiVersion = '2025-03-01') {
        "$($F.Https)/$($Scope.Trim('/'))/providers/Microsoft.CostManagement/generateCostDetailsReport?api-version=$ApiVersion"
    }

    function Get-Header($Response, [string] $Name) { $v = $Response.Headers[$Name]; if ($v) { "$($v[0])" } }

    $script:Token = Get-FixtureToken
    $script:Body = @{ metric = 'ActualCost'; timePeriod = @{ start = "$Month-01"; end = "$Month-01" } }
}

AfterAll {
    Stop-TestAzureFixture $script:F
}

Describe 'Azure fixture: ARM bearer tokens' -Tag 'Fixture' -Skip:$NoFixture {
    BeforeAll { Reset-TestCostFixture $F }

    It 'answers 401 with WWW-Authenticate invalid_token without a token, with an unknown token and with a revoked one' {
        $scope = "/subscriptions/$([guid]::NewGuid())"
        $none = Invoke-Cost -Uri (Get-PostUri $scope) -Body $Body -Token ''
        $none.StatusCode | Should -Be 401
        Get-Header $none 'WWW-Authenticate' | Should -Match '^Bearer authorization_uri=".*", error="invalid_token"'
        ($none.Content | ConvertFrom-Json).error.code | Should -Be 'AuthenticationFailed'

        $forged = Invoke-Cost -Uri (Get-PostUri $scope) -Body $Body -Token ($Token.Substring(0, $Token.Length - 4) + 'AAAA')
        $forged.StatusCode | Should -Be 401
        ($forged.Content | ConvertFrom-Json).error.code | Should -Be 'InvalidAuthenticationToken'

        $old = Get-FixtureToken
        (Invoke-Cost -Uri (Get-PostUri $scope) -Body $Body -Token $old).StatusCode | Should -Be 202
        Revoke-TestFixtureTokens $F
        $revoked = Invoke-Cost -Uri (Get-PostUri $scope) -Body $Body -Token $old
        $revoked.StatusCode | Should -Be 401
        ($revoked.Content | ConvertFrom-Json).error.code | Should -Be 'InvalidAuthenticationToken'
        $script:Token = Get-FixtureToken
        (Invoke-Cost -Uri (Get-PostUri $scope) -Body $Body).StatusCode | Should -Be 202

        $auth = @(Get-TestCostRequests $F | ForEach-Object authorization)
        $auth | Should -Be @('none', 'invalid', 'valid', 'invalid', 'valid')
    }
}

Describe 'Azure fixture: configuration' -Tag 'Fixture' -Skip:$NoFixture {
    It 'takes cost rules and the default Retry-After from its configuration (kept by reset) and rejects an expired token' {
        $g = Start-TestAzureFixture -CostRules @(@{ metric = 'AmortizedCost'; status = 404 }) -TokenLifetimeSeconds 1 -DefaultRetryAfter 0
        try {
            $t = (Invoke-RestMethod -SkipCertificateCheck -Method Post "$($g.Https)/$($g.TenantId)/oauth2/v2.0/token" -Body @{
                    grant_type = 'client_credentials'; client_id = $g.ClientId; client_secret = $g.ClientSecret; scope = 'https://management.azure.com/.default'
                }).access_token
            $uri = "$($g.Https)/subscriptions/$([guid]::NewGuid())/providers/Microsoft.CostManagement/generateCostDetailsReport?api-version=2025-03-01"
            $p = @{ Method = 'Post'; Uri = $uri; SkipCertificateCheck = $true; SkipHttpErrorCheck = $true; ContentType = 'application/json'; Headers = @{ Authorization = "Bearer $t" } }
            (Invoke-WebRequest @p -Body '{"metric":"AmortizedCost"}').StatusCode | Should -Be 404
            Reset-TestCostFixture $g
            (Invoke-WebRequest @p -Body '{"metric":"AmortizedCost"}').StatusCode | Should -Be 404
            $accepted = Invoke-WebRequest @p -Body '{"metric":"ActualCost"}'
            $accepted.StatusCode | Should -Be 202
            "$($accepted.Headers['Retry-After'])" | Should -Be '0' -Because 'no rule governs the report: the configuration''s defaultRetryAfter'
            # A rule without retryAfter takes the configuration's default; one that sets it keeps its own.
            Set-TestCostRules $g @(@{ metric = 'ActualCost'; pollCount = 2 }, @{ metric = 'AmortizedCost'; retryAfter = 2 })
            "$((Invoke-WebRequest @p -Body '{"metric":"ActualCost"}').Headers['Retry-After'])" | Should -Be '0'
            "$((Invoke-WebRequest @p -Body '{"metric":"AmortizedCost"}').Headers['Retry-After'])" | Should -Be '2'
            Start-Sleep -Milliseconds 1200
            $expired = Invoke-WebRequest @p -Body '{"metric":"ActualCost"}'
            $expired.StatusCode | Should -Be 401
            ($expired.Content | ConvertFrom-Json).error.code | Should -Be 'ExpiredAuthenticationToken'
        }
        finally { Stop-TestAzureFixture $g }
    }
}

Describe 'Azure fixture: cost-details reports' -Tag 'Fixture' -Skip:$NoFixture {
    BeforeEach { Reset-TestCostFixture $F }

    It 'answers 202 with an absolute Location and Retry-After, 202 again, then 200 with the manifest; the blobs download' {
        $sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ scope = $sub; pollCount = 2; retryAfter = 3; blobCount = 2 })
        $post = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub" '2024-08-01') -Body $Body
        $post.StatusCode | Should -Be 202
        Get-Header $post 'Retry-After' | Should -Be '3'
        Get-Header $post 'x-ms-request-id' | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-'
        Get-Header $post 'x-ms-correlation-request-id' | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-'
        $location = Get-Header $post 'Location'
        $location | Should -Match "^$([regex]::Escape($F.Https))/subscriptions/$sub/providers/Microsoft.CostManagement/costDetailsOperationResults/[0-9a-f-]{36}\?api-version=2024-08-01$"

        $second = Invoke-Cost -Method GET -Uri $location
        $second.StatusCode | Should -Be 202
        Get-Header $second 'Location' | Should -Be $location
        $final = Invoke-Cost -Method GET -Uri $location
        $final.StatusCode | Should -Be 200
        $r = $final.Content | ConvertFrom-Json -AsHashtable
        $r.status | Should -Be 'Completed'
        $r.name | Should -Be ($location -replace '^.*/costDetailsOperationResults/([^?]+)\?.*$', '$1')
        $r.manifest.manifestVersion | Should -Be '2024-08-01'
        $r.manifest.dataFormat | Should -Be 'Csv'
        $r.manifest.blobCount | Should -Be 2
        $r.manifest.compressData | Should -BeFalse
        $r.manifest.requestContext.requestScope | Should -Be "subscriptions/$sub"
        $r.manifest.requestContext.requestBody.timePeriod.start | Should -Be "$Month-01"
        [DateTimeOffset]::Parse($r.validTill) | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(55))
        $sum = 0
        foreach ($b in $r.manifest.blobs) {
            $b.blobLink | Should -Match '\?sv=2018-03-28&sr=b&sig=[^&]+&se='
            $bytes = (Invoke-WebRequest -SkipCertificateCheck $b.blobLink).RawContentStream.ToArray()
            $bytes.Length | Should -Be $b.byteCount
            $sum += $bytes.Length
        }
        $r.manifest.byteCount | Should -Be $sum
        $sigs = (Get-TestFixtureIssued $F).sasSignatures
        @($sigs).Count | Should -Be 4
        (Invoke-WebRequest -SkipCertificateCheck -SkipHttpErrorCheck ($r.manifest.blobs[0].blobLink -replace 'sig=[^&]+', 'sig=forged')).StatusCode | Should -Be 403
        @(Get-TestCostRequests $F | ForEach-Object status) | Should -Be @(202, 202, 200)
    }

    It 'answers a 429 with Retry-After and the x-ms-ratelimit headers, then the real answer; records the fault' {
        $sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{
                scope = "/subscriptions/$sub/"; postFaults = @(@{ status = 429; retryAfter = 2; headers = @{
                            'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after'    = '5'
                            'x-ms-ratelimit-microsoft.consumption-retry-after'           = '7'
                        }
                    })
            })
        $first = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub") -Body $Body
        $first.StatusCode | Should -Be 429
        Get-Header $first 'Retry-After' | Should -Be '2'
        Get-Header $first 'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after' | Should -Be '5'
        Get-Header $first 'x-ms-ratelimit-microsoft.consumption-retry-after' | Should -Be '7'
        ($first.Content | ConvertFrom-Json).error.code | Should -Be 'TooManyRequests'
        (Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub") -Body $Body).StatusCode | Should -Be 202
        $req = @(Get-TestCostRequests $F)
        $req[0].faultApplied | Should -Match '"status":\s*429'
        $req[0].retryAfterSent | Should -Be 2
        $req[1].faultApplied | Should -BeNullOrEmpty
    }

    It 'drops the connection, answers 204, 403 naming the scope, and a Failed report with its error' {
        $a, $b, $c, $d = 1..4 | ForEach-Object { [guid]::NewGuid().ToString() }
        Set-TestCostRules $F @(
            @{ scope = $a; postFaults = @(@{ drop = $true }) }
            @{ scope = $b; noContent = $true }
            @{ scope = $c; status = 403 }
            @{ scope = $d; pollCount = 0; result = 'Failed'; error = @{ code = 'ReportFailed'; message = 'boom' } }
        )
        { Invoke-Cost -Uri (Get-PostUri "/subscriptions/$a") -Body $Body } | Should -Throw
        (Invoke-Cost -Uri (Get-PostUri "/subscriptions/$b") -Body $Body).StatusCode | Should -Be 204
        $denied = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$c") -Body $Body
        $denied.StatusCode | Should -Be 403
        ($denied.Content | ConvertFrom-Json).error.code | Should -Be 'AuthorizationFailed'
        ($denied.Content | ConvertFrom-Json).error.message | Should -Match "over scope '/subscriptions/$c'"
        $failed = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$d") -Body $Body
        $failed.StatusCode | Should -Be 200
        $j = $failed.Content | ConvertFrom-Json
        $j.status | Should -Be 'Failed'
        $j.error.code | Should -Be 'ReportFailed'
        (Get-TestCostRequests $F)[0].status | Should -Be 0
    }

    It 'refuses what the service refuses with 400: <Case>' -TestCases @(
        @{ Case = 'unknown member'; Raw = '{"metric":"ActualCost","granularity":"Daily"}'; Pattern = 'invalid member not accepted' }
        @{ Case = 'not JSON'; Raw = 'metric=ActualCost'; Pattern = 'not in a json format' }
        @{ Case = 'two period forms'; Raw = '{"billingPeriod":"202601","invoiceId":"G1"}'; Pattern = 'can only have either timePeriod or invoiceId or billingPeriod' }
        @{ Case = 'over one month'; Raw = '{"timePeriod":{"start":"START","end":"END"}}'; Pattern = 'maximum allowed date range is 1 months' }
        @{ Case = 'older than 13 months'; Raw = '{"timePeriod":{"start":"OLD","end":"OLD"}}'; Pattern = 'Start date must be after' }
        @{ Case = 'bad metric'; Raw = '{"metric":"Usage"}'; Pattern = 'Invalid Request Payload' }
        @{ Case = 'unknown api-version'; Raw = '{}'; Api = '2021-10-01'; Code = 'InvalidApiVersionParameter'; Pattern = "api-version '2021-10-01' is invalid" }
        @{ Case = 'resource group'; Raw = '{}'; Scope = 'RG'; Code = 'BadRequest'; Pattern = 'resource group scope' }
    ) {
        $start = [DateTime]::UtcNow.Date.AddDays(-40)
        $raw = $Raw.Replace('START', $start.ToString('yyyy-MM-dd')).Replace('END', $start.AddMonths(1).ToString('yyyy-MM-dd')).Replace('OLD', [DateTime]::UtcNow.AddMonths(-14).ToString('yyyy-MM-01'))
        $sub = [guid]::NewGuid()
        $scope = if ($Scope -eq 'RG') { "/subscriptions/$sub/resourceGroups/billing" } else { "/subscriptions/$sub" }
        $r = Invoke-Cost -Uri (Get-PostUri $scope ($Api ?? '2025-03-01')) -RawBody $raw
        $r.StatusCode | Should -Be 400
        $e = ($r.Content | ConvertFrom-Json).error
        $e.code | Should -Be ($Code ?? 'BadRequest')
        $e.message | Should -Match $Pattern
    }

    It 'keeps polling with an unknown status, then fails a GET with a 503 poll fault, then completes' {
        $sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ scope = $sub; pollCount = 1; retryAfter = $null; unknownStatus = 'Running'; unknownCount = 1; pollFaults = @(@{ status = 503; retryAfter = 1 }) })
        $post = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub") -Body $Body
        $post.StatusCode | Should -Be 202
        $post.Headers.ContainsKey('Retry-After') | Should -BeFalse
        $loc = Get-Header $post 'Location'
        (Invoke-Cost -Method GET -Uri $loc).StatusCode | Should -Be 503
        $running = Invoke-Cost -Method GET -Uri $loc
        $running.StatusCode | Should -Be 200
        ($running.Content | ConvertFrom-Json).status | Should -Be 'Running'
        (Invoke-Cost -Method GET -Uri $loc).Content | ConvertFrom-Json | ForEach-Object status | Should -Be 'Completed'
    }

    It 'generates a report in a set time (generationMs): 202 to every poll until then, whatever their number, then the manifest' {
        $sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ scope = $sub; generationMs = 1500; retryAfter = 20 })
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $post = Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub") -Body $Body
        $posted = $watch.ElapsedMilliseconds
        $post.StatusCode | Should -Be 202
        Get-Header $post 'Retry-After' | Should -Be '20'
        $loc = Get-Header $post 'Location'
        $polls = 0
        while ($watch.ElapsedMilliseconds -lt 1200) { (Invoke-Cost -Method GET -Uri $loc).StatusCode | Should -Be 202; $polls++; Start-Sleep -Milliseconds 150 }
        $polls | Should -BeGreaterThan 2
        Start-Sleep -Milliseconds ([Math]::Max(0, $posted + 1600 - $watch.ElapsedMilliseconds))
        $final = Invoke-Cost -Method GET -Uri $loc
        $final.StatusCode | Should -Be 200
        ($final.Content | ConvertFrom-Json).status | Should -Be 'Completed'
    }

    It 'lists subscriptions in pages with nextLink' {
        $ids = 1..3 | ForEach-Object { [guid]::NewGuid().ToString() }
        Set-TestSubscriptions $F @(@{ subscriptionId = $ids[0]; displayName = 'Prod' }, $ids[1], $ids[2]) -PageSize 2
        $p1 = (Invoke-Cost -Method GET -Uri "$($F.Https)/subscriptions?api-version=2022-12-01").Content | ConvertFrom-Json
        @($p1.value).Count | Should -Be 2
        $p1.value[0].id | Should -Be "/subscriptions/$($ids[0])"
        $p1.value[0].displayName | Should -Be 'Prod'
        $p1.value[0].tenantId | Should -Be $F.TenantId
        $p2 = (Invoke-Cost -Method GET -Uri $p1.nextLink).Content | ConvertFrom-Json
        @($p2.value.subscriptionId) | Should -Be @($ids[2])
        $p2.PSObject.Properties.Name | Should -Not -Contain 'nextLink'
        (Invoke-Cost -Method GET -Uri "$($F.Https)/subscriptions?api-version=2022-12-01" -Token '').StatusCode | Should -Be 401
    }
}

Describe 'Azure fixture: blob fault proxy' -Tag 'Fixture' -Skip:$NoFixture {
    It 'cuts a body after N bytes, answers 503, passes Range through, then streams the blob whole; the log redacts sig' {
        Reset-TestCostFixture $F
        $sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ scope = $sub; pollCount = 0 })
        $link = ((Invoke-Cost -Uri (Get-PostUri "/subscriptions/$sub") -Body $Body).Content | ConvertFrom-Json).manifest.blobs[0].blobLink
        $whole = (Invoke-WebRequest -SkipCertificateCheck $link).RawContentStream.ToArray()
        # the generated blobs are served on both listeners, so the proxy's upstream can be the fixture itself
        $proxy = Set-TestBlobProxy $F -Upstream $F.Http -Faults @(@{ cutAfterBytes = 100 }, @{ status = 503; retryAfter = 1 })
        $via = $link -replace '^https://[^/]+', $proxy

        { Invoke-WebRequest $via } | Should -Throw
        $busy = Invoke-WebRequest $via -SkipHttpErrorCheck
        $busy.StatusCode | Should -Be 503
        "$($busy.Headers['Retry-After'])" | Should -Be '1'
        $part = Invoke-WebRequest $via -Headers @{ Range = 'bytes=10-19' }
        $part.StatusCode | Should -Be 206
        "$($part.Headers['Content-Range'])" | Should -Be "bytes 10-19/$($whole.Length)"
        $full = Invoke-WebRequest $via
        $full.RawContentStream.ToArray() | Should -Be $whole
        "$($full.Headers['Content-MD5'])" | Should -Not -BeNullOrEmpty

        $log = @(Get-TestBlobProxyRequests $F)
        $log.Count | Should -Be 4
        $log[0].bytesSent | Should -Be 100
        $log[0].fault | Should -Match 'cutAfterBytes'
        $log[1].status | Should -Be 503
        $log[2].range | Should -Be 'bytes=10-19'
        $log[3].bytesSent | Should -Be $whole.Length
        $log | ForEach-Object { $_.query | Should -Match 'sig=REDACTED' }
    }
}
