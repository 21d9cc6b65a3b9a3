#Requires -Version 7.4
# Save-AzCostBlob against Azurite (the Azure Storage emulator, started here on a free loopback port with its data in a
# temporary folder) with real service-SAS links. Faults (cut connections, 503s) come from the test fixture's blob
# proxy between the cmdlet and Azurite; New-AzCostReport manifests come from the fixture's Cost Management API.
# Every test is skipped, with the reason, when Azurite (or, for the proxy and report tests, the fixture) is missing.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) {
        $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1'
    }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    # The fault-proxy cases retry real failures: the back-off between tries at a tenth (the retries, their count and the
    # service's Retry-After as they are; xunit's RetryPolicyTests holds the full waits). Back to 1 in AfterAll: the
    # Pester run is one process.
    [AzBillingPS.Internal.InternalHooks]::SetTestHook('StorageRetryScale', 0.1)

    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) ('azb-blob-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    New-Item -ItemType Directory -Path $Dir | Out-Null
    $script:Sub = '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    $script:Scope = "/subscriptions/$Sub"
    $script:Slug = "subscriptions-$Sub"

    $script:Az = Start-TestAzurite -WarningVariable azWarn -WarningAction SilentlyContinue
    $script:NoAzurite = if ($Az) { $null } else { "Azurite is not available: $azWarn" }

    $script:Fixture = $null
    $script:NoFixture = 'Azurite is not available'
    if ($Az) {
        if (-not (Get-Command Start-TestAzureFixture -ErrorAction SilentlyContinue)) { $script:NoFixture = 'the test fixture helpers (Start-TestAzureFixture) are not in TestHelpers.psm1' }
        elseif (-not (Test-Path (Join-Path $RepoRoot 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))) { $script:NoFixture = 'the test fixture is not built (build.ps1 -Task Build)' }
        else {
            # Retry-After 0 on its reports: no case here measures the wait before a poll (a second per report otherwise).
            $script:Fixture = Start-TestAzureFixture -DefaultRetryAfter 0
            $script:NoFixture = $null
        }
    }

    # Every SAS link the tests make; none of their signatures may show up in any stream, error or file.
    $script:Signatures = [Collections.Generic.List[string]]::new()
    $script:Transcript = [Collections.Generic.List[string]]::new()

    function New-Link {
        # A service-SAS link to a blob (recorded for the leak check); -Proxy routes it through the fixture's blob proxy.
        param([string] $Name, [datetime] $Expiry = [DateTime]::UtcNow.AddHours(1), [switch] $Proxy, [string] $Key)
        $p = @{ Name = $Name; Expiry = $Expiry }
        if ($Proxy) { $p.BaseUri = "$($Fixture.Http)/_proxy/$($Az.Account)" }
        if ($Key) { $p.Key = $Key }
        $link = New-TestBlobSasLink $Az @p
        $sig = [Uri]::UnescapeDataString(($link -split 'sig=')[1])
        $script:Signatures.Add($sig); $script:Signatures.Add([Uri]::EscapeDataString($sig))
        return $link
    }

    function Invoke-Save {
        # Runs Save-AzCostBlob with -Verbose -Debug, keeps every stream's text for the leak check, and returns
        # Files (AzCostFile), Errors (ErrorRecord), Warnings, Verbose and Text (everything as text).
        param([Parameter(ValueFromPipeline)] $Report, [hashtable] $Parameters = @{})
        begin { $reports = [Collections.Generic.List[object]]::new() }
        process { foreach ($r in @($Report)) { $reports.Add($r) } }
        end {
            $DebugPreference = 'Continue'
            $errs = @()
            $all = @($reports | Save-AzCostBlob @Parameters -Verbose -ErrorAction SilentlyContinue -ErrorVariable +errs *>&1)
            $files = @($all | Where-Object { $_ -is [AzBillingPS.AzCostFile] })
            $errors = @(@($all | Where-Object { $_ -is [Management.Automation.ErrorRecord] }) + @($errs) | Select-Object -Unique)
            $text = [Collections.Generic.List[string]]::new()
            foreach ($x in $all) {
                $text.Add([string]$x)
                if ($x -is [AzBillingPS.AzCostFile]) { $text.Add(($x | Format-List * | Out-String)) }
            }
            foreach ($e in $errors) {
                $text.Add($e.ToString()); $text.Add($e.Exception.ToString()); $text.Add(($e | Format-List * -Force | Out-String))
                if ($e.ErrorDetails) { $text.Add($e.ErrorDetails.Message); $text.Add($e.ErrorDetails.RecommendedAction) }
            }
            foreach ($t in $text) { $script:Transcript.Add($t) }
            [pscustomobject]@{
                Files    = $files
                Errors   = $errors
                Warnings = @($all | Where-Object { $_ -is [Management.Automation.WarningRecord] } | ForEach-Object Message)
                Verbose  = @($all | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | ForEach-Object Message)
                Text     = ($text -join "`n")
            }
        }
    }

    function New-Folder([string] $Name) {
        $f = Join-Path $Dir $Name
        New-Item -ItemType Directory -Force $f | Out-Null
        return $f
    }

    function Get-ExpectedName([int] $Index, [int] $Count, [string] $Start = '20260301', [string] $End = '20260331', [string] $Metric = 'ActualCost', [string] $Ext = '.csv') {
        return "${Slug}_${Metric}_$Start-${End}_${Index}of$Count$Ext"
    }

    if ($Az) {
        # Three blobs of one report: real cost-details CSV files from the generator (one month, one report, 3 blobs).
        $gen = New-Folder 'gen'
        $script:CsvFiles = @(New-TestCostFile -Kind Ea -Rows 1800 -Month 2026-03 -Path (Join-Path $gen 'ea.csv') -Blobs 3)
        $script:ThreeBlobs = @()
        for ($i = 0; $i -lt $CsvFiles.Count; $i++) {
            $b = New-TestBlob $Az -Name "three/part$($i + 1).csv" -Path $CsvFiles[$i].FullName
            $script:ThreeBlobs += [pscustomobject]@{ Name = $b.Name; Bytes = $b.Bytes; Sha256 = $b.Sha256; Source = $CsvFiles[$i].FullName }
        }
        # A 24 MB blob in 8 MB blocks with its MD5 stored, for cut/resume tests.
        $script:Big = New-TestBlob $Az -Name 'big/data.bin' -Length 24MB -Seed 11 -ContentMd5
    }
}

AfterAll {
    [AzBillingPS.Internal.InternalHooks]::SetTestHook('StorageRetryScale', 1.0)
    if ($Fixture) { Stop-TestAzureFixture $Fixture }
    if ($Az) { Stop-TestAzurite $Az }
    Remove-Item -Recurse -Force -LiteralPath $Dir -ErrorAction SilentlyContinue
}

Describe 'Save-AzCostBlob' -Tag 'Blob' {
    BeforeEach {
        if ($NoAzurite) { Set-ItResult -Skipped -Because $NoAzurite }
    }

    It 'saves every blob of a 3-blob report under stable, distinct names, byte for byte, in blob order' {
        $out = New-Folder 'three'
        $report = New-TestCostReport -Scope $Scope -OperationId 'op-three' -Blob ($ThreeBlobs | ForEach-Object { @{ Link = (New-Link $_.Name); Bytes = $_.Bytes } })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        $r.Files.Count | Should -Be 3
        $r.Files.BlobIndex | Should -Be @(1, 2, 3)
        for ($i = 0; $i -lt 3; $i++) {
            $f = $r.Files[$i]
            Split-Path $f.Path -Leaf | Should -Be (Get-ExpectedName ($i + 1) 3)
            Split-Path $f.Path | Should -Be $out
            Get-TestFileSha256 $f.Path | Should -Be $ThreeBlobs[$i].Sha256
            $f.Bytes | Should -Be $ThreeBlobs[$i].Bytes
            $f.BlobCount | Should -Be 3
            $f.Scope | Should -Be $Scope
            $f.Metric | Should -Be 'ActualCost'
            $f.PeriodStart | Should -Be ([datetime]'2026-03-01')
            $f.PeriodEnd | Should -Be ([datetime]'2026-03-31')
            $f.OperationId | Should -Be 'op-three'
            $f.Skipped | Should -BeFalse
        }
        # Nothing but the three files is left behind (no .partial, no state file).
        @(Get-ChildItem -LiteralPath $out -Force).Name | Sort-Object | Should -Be @($r.Files | ForEach-Object { Split-Path $_.Path -Leaf } | Sort-Object)
        # The view shows the file table.
        ($r.Files | Format-Table | Out-String -Width 400) | Should -Match ' 1/3 '
    }

    It 'keeps complete files on a second run, replaces a file of the wrong length, and downloads again with -Force' {
        $out = New-Folder 'skip'
        $report = New-TestCostReport -Scope $Scope -Blob ($ThreeBlobs | ForEach-Object { @{ Link = (New-Link $_.Name); Bytes = $_.Bytes } })
        $first = $report | Invoke-Save -Parameters @{ Path = $out }
        $first.Files.Count | Should -Be 3
        $old = [datetime]'2020-01-01'
        foreach ($f in $first.Files) { (Get-Item -LiteralPath $f.Path).LastWriteTimeUtc = $old }
        # Blob 2 on disk is now shorter than the manifest says: it must be replaced, with a warning.
        $p2 = $first.Files[1].Path
        $bytes = [IO.File]::ReadAllBytes($p2); [IO.File]::WriteAllBytes($p2, $bytes[0..99]); (Get-Item -LiteralPath $p2).LastWriteTimeUtc = $old

        $second = $report | Invoke-Save -Parameters @{ Path = $out }
        $second.Errors | Should -BeNullOrEmpty
        $second.Files.Skipped | Should -Be @($true, $false, $true)
        (Get-Item -LiteralPath $second.Files[0].Path).LastWriteTimeUtc | Should -Be $old
        (Get-Item -LiteralPath $second.Files[1].Path).LastWriteTimeUtc | Should -BeGreaterThan $old
        Get-TestFileSha256 $p2 | Should -Be $ThreeBlobs[1].Sha256
        ($second.Warnings -join "`n") | Should -Match '100 bytes but the report''s manifest says'

        $third = $report | Invoke-Save -Parameters @{ Path = $out; Force = $true }
        $third.Files.Skipped | Should -Be @($false, $false, $false)
        foreach ($f in $third.Files) { (Get-Item -LiteralPath $f.Path).LastWriteTimeUtc | Should -BeGreaterThan $old }
    }

    It 'verifies the blob''s Content-MD5 and discards a download that does not match' {
        $out = New-Folder 'md5'
        $bad = New-TestBlob $Az -Name 'md5/bad.bin' -Length 9MB -Seed 5 -BlockSize 4MB -Md5 ([Convert]::ToBase64String([byte[]]::new(16)))
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link 'md5/bad.bin'); Bytes = $bad.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingServiceError*'
        $r.Errors[0].Exception.Message | Should -Match 'do not match the blob''s Content-MD5'
        @(Get-ChildItem -LiteralPath $out -Force) | Should -BeNullOrEmpty
        # The same bytes with the right MD5 pass.
        $good = New-TestBlob $Az -Name 'md5/good.bin' -Length 9MB -Seed 5 -BlockSize 4MB -ContentMd5
        $ok = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link 'md5/good.bin'); Bytes = $good.Bytes }) | Invoke-Save -Parameters @{ Path = $out }
        $ok.Errors | Should -BeNullOrEmpty
        ($ok.Text) | Should -Match 'Content-MD5 .* verified'
    }

    It 'decompresses gzip blobs by default and keeps them as .csv.gz with -Decompress:$false' {
        $out = New-Folder 'gzip'
        $src = $ThreeBlobs[0].Source
        $gz = Join-Path $Dir 'part1.csv.gz'
        $in = [IO.File]::OpenRead($src); $outStream = [IO.File]::Create($gz)
        $zip = [IO.Compression.GZipStream]::new($outStream, [IO.Compression.CompressionLevel]::Optimal)
        $in.CopyTo($zip); $zip.Dispose(); $outStream.Dispose(); $in.Dispose()
        $blob = New-TestBlob $Az -Name 'gzip/part1.csv.gz' -Path $gz
        $report = New-TestCostReport -Scope $Scope -CompressData -Blob @(@{ Link = (New-Link 'gzip/part1.csv.gz'); Bytes = $blob.Bytes })

        $plain = $report | Invoke-Save -Parameters @{ Path = $out }
        $plain.Errors | Should -BeNullOrEmpty
        Split-Path $plain.Files[0].Path -Leaf | Should -Be (Get-ExpectedName 1 1)
        Get-TestFileSha256 $plain.Files[0].Path | Should -Be $ThreeBlobs[0].Sha256
        $plain.Files[0].Bytes | Should -Be (Get-Item -LiteralPath $src).Length

        $kept = $report | Invoke-Save -Parameters @{ Path = $out; Decompress = $false }
        $kept.Errors | Should -BeNullOrEmpty
        Split-Path $kept.Files[0].Path -Leaf | Should -Be (Get-ExpectedName 1 1 -Ext '.csv.gz')
        Get-TestFileSha256 $kept.Files[0].Path | Should -Be $blob.Sha256
        @(Get-ChildItem -LiteralPath $out -Force).Count | Should -Be 2
    }

    It 'refuses an expired link before downloading, saying to request the report again or use -Refresh' {
        $out = Join-Path $Dir 'expired'
        $expiredLink = New-Link $ThreeBlobs[0].Name -Expiry ([DateTime]::UtcNow.AddMinutes(-10))
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = $expiredLink; Bytes = $ThreeBlobs[0].Bytes }, @{ Link = (New-Link $ThreeBlobs[1].Name); Bytes = $ThreeBlobs[1].Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors.Count | Should -BeGreaterOrEqual 1
        $e = $r.Errors | Where-Object FullyQualifiedErrorId -Like 'BlobLinkExpired*' | Select-Object -First 1
        $e | Should -Not -BeNullOrEmpty
        $e.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $e.Exception.Message | Should -Match 'expired at'
        $e.Exception.Message | Should -Match 'Request the report again'
        $e.Exception.Message | Should -Match '-Refresh'
        $e.TargetObject | Should -Be $report
        # The report's ValidTill alone (links still valid) also stops it; one error for the report, not one per blob.
        $report2 = New-TestCostReport -Scope $Scope -ValidTill ([DateTimeOffset]::UtcNow.AddSeconds(20)) -Blob ($ThreeBlobs | ForEach-Object { @{ Link = (New-Link $_.Name); Bytes = $_.Bytes } })
        $r2 = $report2 | Invoke-Save -Parameters @{ Path = $out }
        $r2.Errors.Count | Should -Be 1
        $r2.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BlobLinkExpired*'
        $r2.Errors[0].Exception.Message | Should -Match 'in less than 60 seconds'
        # -Refresh without a token (a report not made by New-AzCostReport) says why it cannot refresh.
        $r3 = $report2 | Invoke-Save -Parameters @{ Path = $out; Refresh = $true }
        $r3.Errors.Count | Should -Be 1
        $r3.Errors[0].Exception.Message | Should -Match 'carries no token'
        # Only blob 2 (whose own link was valid) is on disk, complete; the report wrote no AzCostFile.
        @(Get-ChildItem -LiteralPath $out -Force).Name | Should -Be @(Get-ExpectedName 2 2)
    }

    It 'reports a storage 403 with the storage error code (Azurite: AuthorizationFailure for a bad signature)' {
        $out = New-Folder 'forbidden'
        $wrongKey = [Convert]::ToBase64String([byte[]](1..64))
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $ThreeBlobs[0].Name -Key $wrongKey); Bytes = $ThreeBlobs[0].Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $e = $r.Errors[0]
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingPermissionDenied*'
        $e.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $e.Exception.ServiceCode | Should -Be 'AuthorizationFailure'
        $e.Exception.CorrelationId | Should -Match '^[0-9a-f-]{36}$'
        $e.Exception.Message | Should -Match '403 AuthorizationFailure: Server failed to authenticate the request'
        $e.Exception.Message | Should -Match 'sig=REDACTED'
        $e.Exception.Message | Should -Match 'request the report again'
        $e.ErrorDetails.RecommendedAction | Should -Match 'AuthorizationFailure'
        @(Get-ChildItem -LiteralPath $out -Force | Where-Object Name -NotLike '*.partial*') | Should -BeNullOrEmpty
    }

    It 'refuses a plain-http link to a host that is not loopback' {
        $out = Join-Path $Dir 'http'
        $link = (New-Link $ThreeBlobs[0].Name) -replace '^http://127\.0\.0\.1:\d+', 'http://storage.invalid'
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = $link; Bytes = 10 })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*'
        $r.Errors[0].Exception.Message | Should -Match 'does not use https'
        $r.Errors[0].Exception.Message | Should -Match 'http://storage\.invalid/.*sig=REDACTED'
    }

    It '-WhatIf lists every file and writes nothing, not even the folder' {
        $out = Join-Path $Dir 'whatif/inner'
        $report = New-TestCostReport -Scope $Scope -Blob ($ThreeBlobs | ForEach-Object { @{ Link = (New-Link $_.Name); Bytes = $_.Bytes } })
        # What if: lines go to the host, so the command runs in a child pwsh whose output is read.
        $links = @($report.Blobs | ForEach-Object { "@{ Link = '$($_.GetBlobLink())'; Bytes = $($_.ByteCount) }" }) -join ', '
        $child = Invoke-ChildPwsh -Script @"
Import-Module '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')'
New-TestCostReport -Scope '$Scope' -Blob @($links) | Save-AzCostBlob -Path '$out' -WhatIf
"@
        $child.ExitCode | Should -Be 0 -Because $child.StdErr
        $lines = @($child.Output | Where-Object { $_ -like 'What if:*' })
        $lines.Count | Should -Be 3
        $lines[0] | Should -Match ([regex]::Escape((Get-ExpectedName 1 3)))
        $lines[2] | Should -Match 'blob 3 of 3'
        Test-Path -LiteralPath (Join-Path $Dir 'whatif') | Should -BeFalse
        $lines | ForEach-Object { $script:Transcript.Add($_) }
    }

    It 'writes nothing for a report without data, and resolves -Path wildcards and -LiteralPath' {
        $none = New-TestCostReport -Scope $Scope -Status NoDataFound
        $r = $none | Invoke-Save -Parameters @{ Path = (Join-Path $Dir 'nodata') }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors | Should -BeNullOrEmpty
        ($r.Verbose -join "`n") | Should -Match 'no cost data'
        Test-Path (Join-Path $Dir 'nodata') | Should -BeFalse

        $literal = New-Folder 'lit[1]'
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $ThreeBlobs[0].Name); Bytes = $ThreeBlobs[0].Bytes })
        $a = $report | Invoke-Save -Parameters @{ LiteralPath = $literal }
        Split-Path $a.Files[0].Path | Should -Be $literal
        $b = $report | Invoke-Save -Parameters @{ Path = (Join-Path $Dir 'lit`[1`]') }
        $b.Files[0].Skipped | Should -BeTrue
        { $report | Save-AzCostBlob -Path (Join-Path $Dir 'no-such-*') -ErrorAction Stop } | Should -Throw -ExpectedMessage '*matches no folder*'
    }

    It 'loads a 3-blob report piped into Import-AzCostToSql (SQLite) as one unit' {
        $out = New-Folder 'import'
        $db = Join-Path $Dir 'import.sqlite'
        $report = New-TestCostReport -Scope $Scope -OperationId 'op-import' -Blob ($ThreeBlobs | ForEach-Object { @{ Link = (New-Link $_.Name); Bytes = $_.Bytes } })
        $results = @($report | Save-AzCostBlob -Path $out | Import-AzCostToSql -DatabasePath $db -Confirm:$false)
        $results.Count | Should -Be 1
        $results[0].Files.Count | Should -Be 3
        $expectedRows = Get-CsvRowCount -Path ($ThreeBlobs.Source)
        $expectedRows | Should -BeGreaterThan 0
        $results[0].RowsInserted | Should -Be $expectedRows
        $results[0].PeriodStart | Should -Be ([datetime]'2026-03-01')
        $results[0].Scope | Should -Be $Scope
    }
}

Describe 'Save-AzCostBlob through the fault proxy' -Tag 'Blob' {
    BeforeEach {
        if ($NoAzurite) { Set-ItResult -Skipped -Because $NoAzurite }
        elseif ($NoFixture) { Set-ItResult -Skipped -Because $NoFixture }
        else { $null = Set-TestBlobProxy $Fixture -Upstream "http://127.0.0.1:$($Az.Port)" }
    }

    It 'resumes connections cut after N bytes with Range requests; the file is byte-identical' {
        $out = New-Folder 'cut'
        $null = Set-TestBlobProxy $Fixture -Faults @(@{ cutAfterBytes = 5MB }, @{ cutAfterBytes = 3MB }, @{ cutAfterBytes = 1 })
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $Big.Name -Proxy); Bytes = $Big.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        Get-TestFileSha256 $r.Files[0].Path | Should -Be $Big.Sha256
        $requests = @(Get-TestBlobProxyRequests $Fixture)
        $requests.Count | Should -Be 4
        $requests[0].range | Should -BeNullOrEmpty
        $requests[1].range | Should -Be "bytes=$(5MB)-"
        $requests[2].range | Should -Be "bytes=$(8MB)-"
        $requests[3].range | Should -Be "bytes=$(8MB + 1)-"
        ($r.Verbose -join "`n") | Should -Match 'resuming from there \(3 of 5\)'
        $r.Files[0].Bytes | Should -Be $Big.Bytes
    }

    It 'retries 503 answers and then succeeds' {
        $out = New-Folder 'busy'
        $null = Set-TestBlobProxy $Fixture -Faults @(@{ status = 503 }, @{ status = 500 })
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $ThreeBlobs[2].Name -Proxy); Bytes = $ThreeBlobs[2].Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        Get-TestFileSha256 $r.Files[0].Path | Should -Be $ThreeBlobs[2].Sha256
        @(Get-TestBlobProxyRequests $Fixture).status | Should -Be @(503, 500, 200)
        ($r.Verbose -join "`n") | Should -Match '503 ServerBusy; retry 1 of 4'
    }

    It 'gives up after bounded retries and resumes, leaving only a .partial, then resumes it on the next run' {
        $out = New-Folder 'bounded'
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $Big.Name -Proxy); Bytes = $Big.Bytes })
        # Six cuts: the first request and five resumes all drop.
        $null = Set-TestBlobProxy $Fixture -Faults (1..6 | ForEach-Object { @{ cutAfterBytes = 1MB } })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingServiceError*'
        $r.Errors[0].Exception.Message | Should -Match 'dropped 6 times'
        $r.Errors[0].Exception.Message | Should -Match 'run the command again to resume'
        @(Get-TestBlobProxyRequests $Fixture).Count | Should -Be 6
        $final = Join-Path $out (Get-ExpectedName 1 1)
        Test-Path -LiteralPath $final | Should -BeFalse
        (Get-Item -LiteralPath "$final.partial").Length | Should -Be 6MB

        # Five 503s: more than the four retries.
        $null = Set-TestBlobProxy $Fixture -Faults (1..5 | ForEach-Object { @{ status = 503 } })
        $busy = $report | Invoke-Save -Parameters @{ Path = $out }
        $busy.Errors.Count | Should -Be 1
        $busy.Errors[0].Exception.Message | Should -Match '503 ServerBusy to 5 attempts in a row'
        $busy.Errors[0].Exception.ServiceCode | Should -Be 'ServerBusy'
        Test-Path -LiteralPath $final | Should -BeFalse

        # The next run picks the .partial up where it stopped.
        $null = Set-TestBlobProxy $Fixture
        $again = $report | Invoke-Save -Parameters @{ Path = $out }
        $again.Errors | Should -BeNullOrEmpty
        @(Get-TestBlobProxyRequests $Fixture)[0].range | Should -Be "bytes=$(6MB)-"
        Get-TestFileSha256 $final | Should -Be $Big.Sha256
        @(Get-ChildItem -LiteralPath $out -Force).Name | Should -Be @(Split-Path $final -Leaf)
    }

    It 'starts again from the first byte when the blob changed since the .partial was written (If-Match, 412)' {
        $out = New-Folder 'changed'
        $name = 'changed/blob.bin'
        $before = New-TestBlob $Az -Name $name -Length 12MB -Seed 1 -BlockSize 4MB -ContentMd5
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $name -Proxy); Bytes = $before.Bytes })
        $null = Set-TestBlobProxy $Fixture -Faults (1..6 | ForEach-Object { @{ cutAfterBytes = 1MB } })
        $failed = $report | Invoke-Save -Parameters @{ Path = $out }
        $failed.Errors.Count | Should -Be 1
        $final = Join-Path $out (Get-ExpectedName 1 1)
        (Get-Item -LiteralPath "$final.partial").Length | Should -Be 6MB
        # The blob is replaced (same name and length, other bytes, new ETag) before the next run.
        $after = New-TestBlob $Az -Name $name -Length 12MB -Seed 2 -BlockSize 4MB -ContentMd5
        $after.Sha256 | Should -Not -Be $before.Sha256
        $null = Set-TestBlobProxy $Fixture
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        $requests = @(Get-TestBlobProxyRequests $Fixture)
        $requests[0].range | Should -Be "bytes=$(6MB)-"
        $requests[0].status | Should -Be 412
        $requests[1].range | Should -BeNullOrEmpty
        $requests[1].status | Should -Be 200
        ($r.Warnings -join "`n") | Should -Match 'not the one the partial download started from .*412'
        Get-TestFileSha256 $final | Should -Be $after.Sha256
    }

    It 'resumes the .partial of a killed parallel-range run: only the ranges not complete are fetched again; the result is byte-identical' {
        $out = New-Folder 'killed'
        $name = 'killed/large.bin'
        # 160 MB: ten 16 MiB ranges, eight at a time; 16 MB/s per connection makes each range take about a second.
        $large = New-TestBlob $Az -Name $name -Length 160MB -Seed 21 -BlockSize 16MB -ContentMd5
        $link = New-Link $name -Proxy
        $null = Set-TestBlobProxy $Fixture -BytesPerSecond 16MB
        $final = Join-Path $out (Get-ExpectedName 1 1)
        $script = @"
Import-Module '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')'
`$r = New-TestCostReport -Scope '$Scope' -Blob @(@{ Link = '$link'; Bytes = $($large.Bytes) })
`$r | Save-AzCostBlob -LiteralPath '$out' | Out-Null
"@
        $pwsh = Get-TestPwshCommand
        $file = Join-Path $Dir 'killed-child.ps1'
        Set-Content -LiteralPath $file -Value ("Import-Module `$env:AZBILLING_MODULE_PATH`n" + $script)
        $psi = [Diagnostics.ProcessStartInfo]::new($pwsh.FilePath)
        foreach ($a in @($pwsh.Arguments) + @('-NoProfile', '-NonInteractive', '-File', $file)) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
        $child = [Diagnostics.Process]::Start($psi)
        $state = $null
        try {
            # Killed once the state file says a range is complete (and before the blob is).
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            while (-not $child.HasExited -and [DateTime]::UtcNow -lt $deadline) {
                $state = Get-Content -Raw -LiteralPath "$final.partial.state" -ErrorAction SilentlyContinue
                if ($state -match '(?m)^done=[01]*1') { break }
                Start-Sleep -Milliseconds 20
            }
            $child.HasExited | Should -BeFalse -Because 'the child must still be downloading when it is killed'
            $child.Kill($true)
            $child.WaitForExit()
        }
        finally { if (-not $child.HasExited) { $child.Kill($true) }; $child.Dispose() }
        Test-Path -LiteralPath $final | Should -BeFalse
        (Get-Item -LiteralPath "$final.partial").Length | Should -Be $large.Bytes -Because 'a parallel download writes each range in place in a file of the blob''s length'
        $state = Get-Content -Raw -LiteralPath "$final.partial.state"
        $state | Should -Not -Match 'sig='
        $state | Should -Match "(?m)^ranges=$(16MB)$"
        $done = ([regex]::Match($state, '(?m)^done=([01]+)$')).Groups[1].Value
        $done.Length | Should -Be 10
        $complete = @(0..9 | Where-Object { $done[$_] -eq [char]'1' })
        $complete.Count | Should -BeGreaterThan 0
        $complete.Count | Should -BeLessThan 10
        $firstRun = @(Get-TestBlobProxyRequests $Fixture)
        # Several connections at once, never more than eight for the blob.
        $overlap = foreach ($q in $firstRun) { @($firstRun | Where-Object { $_.startMs -le $q.startMs -and ($null -eq $_.endMs -or $_.endMs -gt $q.startMs) }).Count }
        ($overlap | Measure-Object -Maximum).Maximum | Should -BeGreaterThan 1
        ($overlap | Measure-Object -Maximum).Maximum | Should -BeLessOrEqual 8
        @($firstRun.connection | Select-Object -Unique).Count | Should -BeGreaterThan 1

        $null = Set-TestBlobProxy $Fixture
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = $link; Bytes = $large.Bytes })
        $r = $report | Invoke-Save -Parameters @{ LiteralPath = $out }
        $r.Errors | Should -BeNullOrEmpty
        ($r.Verbose -join "`n") | Should -Match "resuming .*\.partial: $($complete.Count) of its 10 ranges"
        $asked = @(Get-TestBlobProxyRequests $Fixture).range
        foreach ($i in 0..9) {
            $range = 'bytes={0}-{1}' -f ($i * 16MB), ([Math]::Min(($i + 1) * 16MB, $large.Bytes) - 1)
            # A complete range is not fetched again (the last one is, for the ETag and the MD5).
            if ($i -in $complete -and $i -ne 9) { $asked | Should -Not -Contain $range } else { $asked | Should -Contain $range }
        }
        Get-TestFileSha256 $final | Should -Be $large.Sha256
        ($r.Text) | Should -Match 'Content-MD5 .* verified'
        @(Get-ChildItem -LiteralPath $out -Force).Count | Should -Be 1
    }
}

Describe 'Save-AzCostBlob in parallel ranges through the fault proxy' -Tag 'Blob' {
    BeforeAll {
        if ($Az) {
            # 48 MB with its MD5 stored: three 16 MiB ranges.
            $script:Ranged = New-TestBlob $Az -Name 'ranged/data.bin' -Length 48MB -Seed 31 -BlockSize 16MB -ContentMd5
        }
    }

    BeforeEach {
        if ($NoAzurite) { Set-ItResult -Skipped -Because $NoAzurite }
        elseif ($NoFixture) { Set-ItResult -Skipped -Because $NoFixture }
        else { $null = Set-TestBlobProxy $Fixture -Upstream "http://127.0.0.1:$($Az.Port)" }
    }

    It 'fetches a large blob as 16 MiB ranges over several connections at once, each with If-Match; the file is byte-identical and its MD5 verified' {
        $out = New-Folder 'ranged'
        # 12 MB/s per connection: one range takes more than a second, so the ranges overlap when they run at once.
        $null = Set-TestBlobProxy $Fixture -BytesPerSecond 12MB
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $Ranged.Name -Proxy); Bytes = $Ranged.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        Get-TestFileSha256 $r.Files[0].Path | Should -Be $Ranged.Sha256
        $r.Files[0].Bytes | Should -Be $Ranged.Bytes
        ($r.Text) | Should -Match 'Content-MD5 .* verified'
        $requests = @(Get-TestBlobProxyRequests $Fixture)
        @($requests.range | Sort-Object) | Should -Be @("bytes=0-$(16MB - 1)", "bytes=$(16MB)-$(32MB - 1)", "bytes=$(32MB)-$(48MB - 1)")
        $requests.status | Should -Be @(206, 206, 206)
        # The first range goes alone (its answer gives the ETag every other range is asked with); the others overlap it.
        $first = $requests | Where-Object range -eq "bytes=0-$(16MB - 1)"
        $others = @($requests | Where-Object { $_ -ne $first })
        @($others | Where-Object { $_.startMs -lt $first.endMs }).Count | Should -Be 2
        $first.ifMatch | Should -BeNullOrEmpty
        $others.ifMatch | Should -Not -BeNullOrEmpty
        @($others.ifMatch | Select-Object -Unique).Count | Should -Be 1
        @($requests.connection | Select-Object -Unique).Count | Should -Be 3
        @(Get-ChildItem -LiteralPath $out -Force).Name | Should -Be @(Split-Path $r.Files[0].Path -Leaf)
    }

    It 'retries a range whose connection drops mid-way from where it stopped, and a range answered 503; the file is verified' {
        $out = New-Folder 'ranged-cut'
        # The first request (always the first range) is cut after 5 MB; the next one, whichever range it is, gets a 503.
        $null = Set-TestBlobProxy $Fixture -Faults @(@{ cutAfterBytes = 5MB }, @{ status = 503 })
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $Ranged.Name -Proxy); Bytes = $Ranged.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Errors | Should -BeNullOrEmpty
        Get-TestFileSha256 $r.Files[0].Path | Should -Be $Ranged.Sha256
        ($r.Text) | Should -Match 'Content-MD5 .* verified'
        $requests = @(Get-TestBlobProxyRequests $Fixture)
        $requests[0].range | Should -Be "bytes=0-$(16MB - 1)"
        $requests[0].bytesSent | Should -Be 5MB
        $requests.range | Should -Contain "bytes=$(5MB)-$(16MB - 1)"
        @($requests | Where-Object status -eq 503).Count | Should -Be 1
        $requests.Count | Should -Be 5
        ($r.Verbose -join "`n") | Should -Match 'the connection for bytes 0-16,777,215 dropped after 5,242,880 .*resuming from there \(1 of 5\)'
        ($r.Verbose -join "`n") | Should -Match '503 ServerBusy for bytes=.*; retry 1 of 4'
    }

    It 'bounds the connections of all the downloads together: two 80 MB blobs (ten ranges) share eight connections' {
        $out = New-Folder 'ranged-budget'
        $two = New-TestBlob $Az -Name 'ranged/eighty.bin' -Length 80MB -Seed 33 -BlockSize 16MB -ContentMd5
        # 12 MB/s per connection: every range takes more than a second, so the two blobs' ranges overlap.
        $null = Set-TestBlobProxy $Fixture -BytesPerSecond 12MB
        $link = New-Link $two.Name -Proxy
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = $link; Bytes = $two.Bytes }, @{ Link = $link; Bytes = $two.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out; ThrottleLimit = 2 }
        $r.Errors | Should -BeNullOrEmpty
        $r.Files.Count | Should -Be 2
        foreach ($f in $r.Files) { Get-TestFileSha256 $f.Path | Should -Be $two.Sha256 }
        $requests = @(Get-TestBlobProxyRequests $Fixture)
        $requests.Count | Should -Be 10
        $overlap = foreach ($q in $requests) { @($requests | Where-Object { $_.startMs -le $q.startMs -and $_.endMs -gt $q.startMs }).Count }
        # More than one blob's five ranges at once (the blobs download together), never more than eight.
        ($overlap | Measure-Object -Maximum).Maximum | Should -BeGreaterThan 5
        ($overlap | Measure-Object -Maximum).Maximum | Should -BeLessOrEqual 8
    }

    It 'discards a parallel download whose bytes do not match the blob''s Content-MD5' {
        $out = New-Folder 'ranged-md5'
        $bad = New-TestBlob $Az -Name 'ranged/bad.bin' -Length 40MB -Seed 32 -BlockSize 8MB -Md5 ([Convert]::ToBase64String([byte[]]::new(16)))
        $report = New-TestCostReport -Scope $Scope -Blob @(@{ Link = (New-Link $bad.Name -Proxy); Bytes = $bad.Bytes })
        $r = $report | Invoke-Save -Parameters @{ Path = $out }
        $r.Files | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingServiceError*'
        $r.Errors[0].Exception.Message | Should -Match 'do not match the blob''s Content-MD5'
        @(Get-TestBlobProxyRequests $Fixture).Count | Should -Be 3 -Because 'a 40 MB blob is three ranges'
        @(Get-ChildItem -LiteralPath $out -Force) | Should -BeNullOrEmpty
    }
}

Describe 'Save-AzCostBlob with New-AzCostReport against the fixture' -Tag 'Blob' {
    # One child pwsh (trusting the fixture's TLS CA) runs every case; each case prints one RESULT line, and every
    # stream of every command is printed too, for the leak check.
    BeforeAll {
        $script:E2E = $null
        if ($NoAzurite -or $NoFixture) { return }
        $today = [DateTime]::UtcNow.Date
        $start = [DateTime]::new($today.Year, $today.Month, 1).AddMonths(-1)
        $end = $start.AddMonths(1).AddDays(-1)
        $month = $start.ToString('yyyy-MM')
        $subs = @{ three = [guid]::NewGuid().ToString(); gzip = [guid]::NewGuid().ToString(); refresh = [guid]::NewGuid().ToString(); tampered = [guid]::NewGuid().ToString() }
        $gen = New-Folder 'e2e-gen'
        $csv = @(New-TestCostFile -Kind Ea -Rows 1500 -Month $month -Path (Join-Path $gen 'ea.csv') -Blobs 3 -Seed 7)
        $blobs = for ($i = 0; $i -lt 3; $i++) {
            $b = New-TestBlob $Az -Name "e2e/part$($i + 1).csv" -Path $csv[$i].FullName
            @{ blobLink = (New-Link $b.Name); byteCount = $b.Bytes }
        }
        $phase1 = @{ rules = @(
                @{ scope = "/subscriptions/$($subs.three)"; blobs = @($blobs) }
                @{ scope = "/subscriptions/$($subs.gzip)"; blobCount = 2; compressData = $true }
                @{ scope = "/subscriptions/$($subs.refresh)"; blobCount = 2; validTillMinutes = -5 }
                @{ scope = "/subscriptions/$($subs.tampered)"; blobCount = 1 }
            )
        } | ConvertTo-Json -Depth 8 -Compress
        $phase2 = @{ rules = @(@{ scope = "/subscriptions/$($subs.refresh)"; blobCount = 2 }) } | ConvertTo-Json -Depth 8 -Compress
        $out = New-Folder 'e2e-out'
        $script:E2EExpectedRows = Get-CsvRowCount -Path $csv.FullName
        $script:E2ESubs = $subs
        $script:E2EOut = $out
        $child = @"
`$ErrorActionPreference = 'Stop'
`$DebugPreference = 'Continue'
Import-Module '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')'
function Set-Rules([string] `$Json) { Invoke-RestMethod -Method Post -Uri "`$env:AZB_FIXTURE_HTTP/_fixture/cost/rules" -Body `$Json -ContentType 'application/json' -Debug:`$false -Verbose:`$false | Out-Null }
function Show([string] `$Case, `$Items) {
    foreach (`$x in @(`$Items)) {
        if (`$x -is [Management.Automation.ErrorRecord]) { "STREAM `$Case error: `$x | `$(`$x.Exception) | `$(`$x.ErrorDetails)" }
        elseif (`$x -is [AzBillingPS.AzCostFile] -or `$x -is [AzBillingPS.AzCostImportResult] -or `$x -is [AzBillingPS.AzCostReport]) { "STREAM `$Case object: `$((`$x | Format-List * | Out-String).Trim())" }
        else { "STREAM `$Case `$(`$x.GetType().Name): `$x" }
    }
}
function Result([string] `$Case, `$Value) { 'RESULT ' + (@{ case = `$Case; value = `$Value } | ConvertTo-Json -Depth 6 -Compress) }
Set-Rules '$phase1'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$tok = Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS
`$from = '$($start.ToString('yyyy-MM-dd'))'; `$to = '$($end.ToString('yyyy-MM-dd'))'

# three: New-AzCostReport | Save-AzCostBlob | Import-AzCostToSql
`$all = @(. { New-AzCostReport -Token `$tok -SubscriptionId '$($subs.three)' -From `$from -To `$to | Save-AzCostBlob -Path '$out/three' -Verbose -OutVariable files | Import-AzCostToSql -DatabasePath '$out/three.sqlite' -Confirm:`$false } *>&1)
Show three `$all
`$imp = @(`$all | Where-Object { `$_ -is [AzBillingPS.AzCostImportResult] })
Result three @{ files = @(`$files | ForEach-Object { @{ name = (Split-Path `$_.Path -Leaf); index = `$_.BlobIndex; count = `$_.BlobCount; op = `$_.OperationId; bytes = `$_.Bytes } }); imports = `$imp.Count; rows = @(`$imp | ForEach-Object RowsInserted); importFiles = @(`$imp | ForEach-Object { `$_.Files.Count }); errors = @(`$all | Where-Object { `$_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { "`$_" }) }

# gzip: generated gzip blobs, decompressed by default, kept with -Decompress:`$false
`$rep = New-AzCostReport -Token `$tok -SubscriptionId '$($subs.gzip)' -From `$from -To `$to
`$a = @(`$rep | Save-AzCostBlob -Path '$out/gzip' -Verbose *>&1); Show gzip `$a
`$b = @(`$rep | Save-AzCostBlob -Path '$out/gzip' -Decompress:`$false -Verbose *>&1); Show gzipKept `$b
`$plain = @(`$a | Where-Object { `$_ -is [AzBillingPS.AzCostFile] }); `$kept = @(`$b | Where-Object { `$_ -is [AzBillingPS.AzCostFile] })
`$same = for (`$i = 0; `$i -lt `$kept.Count; `$i++) {
    `$in = [IO.File]::OpenRead(`$kept[`$i].Path); `$z = [IO.Compression.GZipStream]::new(`$in, [IO.Compression.CompressionMode]::Decompress); `$ms = [IO.MemoryStream]::new(); `$z.CopyTo(`$ms); `$z.Dispose(); `$in.Dispose()
    [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData(`$ms.ToArray())) -eq (Get-FileHash -LiteralPath `$plain[`$i].Path -Algorithm SHA256).Hash
}
Result gzip @{ compress = `$rep.CompressData; plain = @(`$plain | ForEach-Object { Split-Path `$_.Path -Leaf }); kept = @(`$kept | ForEach-Object { Split-Path `$_.Path -Leaf }); same = @(`$same); firstLine = (Get-Content -LiteralPath `$plain[0].Path -TotalCount 1) }

# refresh: links already expired; without -Refresh one error; with -Refresh the report is requested again
`$old = New-AzCostReport -Token `$tok -SubscriptionId '$($subs.refresh)' -From `$from -To `$to
`$c = @(`$old | Save-AzCostBlob -Path '$out/refresh' -Verbose -ErrorAction Continue *>&1); Show refreshNo `$c
Set-Rules '$phase2'
`$d = @(`$old | Save-AzCostBlob -Path '$out/refresh' -Refresh -Verbose -ErrorAction Continue *>&1); Show refreshYes `$d
`$rf = @(`$d | Where-Object { `$_ -is [AzBillingPS.AzCostFile] })
Result refresh @{ oldOp = `$old.OperationId; validTill = `$old.ValidTill.ToString('o'); noErrors = @(`$c | Where-Object { `$_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { `$_.FullyQualifiedErrorId }); noFiles = @(`$c | Where-Object { `$_ -is [AzBillingPS.AzCostFile] }).Count; files = @(`$rf | ForEach-Object { @{ name = (Split-Path `$_.Path -Leaf); op = `$_.OperationId } }); errors = @(`$d | Where-Object { `$_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { "`$_" }); verbose = @(`$d | Where-Object { `$_ -is [Management.Automation.VerboseRecord] } | ForEach-Object Message) }

# tampered: the fixture's own blob with a wrong signature answers 403 AuthenticationFailed, as Azure Storage does
`$gr = New-AzCostReport -Token `$tok -SubscriptionId '$($subs.tampered)' -From `$from -To `$to
`$link = `$gr.Blobs[0].GetBlobLink().OriginalString -replace 'sig=[^&]+', 'sig=AAAAwrongAAAA'
`$t = @(New-TestCostReport -Scope `$gr.Scope -Start `$from -End `$to -Blob @(@{ Link = `$link; Bytes = `$gr.Blobs[0].ByteCount }) | Save-AzCostBlob -Path '$out/tampered' -Verbose -ErrorAction Continue *>&1); Show tampered `$t
`$e = @(`$t | Where-Object { `$_ -is [Management.Automation.ErrorRecord] })
Result tampered @{ ids = @(`$e | ForEach-Object FullyQualifiedErrorId); code = @(`$e | ForEach-Object { `$_.Exception.ServiceCode }); message = @(`$e | ForEach-Object { `$_.Exception.Message }); category = @(`$e | ForEach-Object { "`$(`$_.CategoryInfo.Category)" }) }
"@
        $run = Invoke-ChildPwsh -Script $child -Environment $Fixture.ChildEnv -TimeoutSeconds 180
        $results = @{}
        foreach ($line in $run.Output) { if ($line -like 'RESULT *') { $j = $line.Substring(7) | ConvertFrom-Json; $results[$j.case] = $j.value } }
        $script:E2E = [pscustomobject]@{ Run = $run; Results = $results; Secrets = @(Get-TestFixtureSecrets $Fixture) }
        $script:Transcript.Add($run.StdOut); $script:Transcript.Add($run.StdErr)
    }

    BeforeEach {
        if ($NoAzurite) { Set-ItResult -Skipped -Because $NoAzurite }
        elseif ($NoFixture) { Set-ItResult -Skipped -Because $NoFixture }
        else { $E2E.Run.ExitCode | Should -Be 0 -Because "$($E2E.Run.StdErr) $($E2E.Run.StdOut)" }
    }

    It 'New-AzCostReport | Save-AzCostBlob | Import-AzCostToSql loads a 3-blob report as one unit' {
        $r = $E2E.Results['three']
        $r | Should -Not -BeNullOrEmpty -Because $E2E.Run.StdOut
        $r.errors | Should -BeNullOrEmpty
        @($r.files).Count | Should -Be 3
        @($r.files.index) | Should -Be @(1, 2, 3)
        @($r.files.count | Select-Object -Unique) | Should -Be @(3)
        @($r.files.op | Select-Object -Unique).Count | Should -Be 1
        $r.files[0].op | Should -Not -BeNullOrEmpty
        $r.files[0].name | Should -BeLike "subscriptions-$($E2ESubs.three)_ActualCost_*_1of3.csv"
        $r.imports | Should -Be 1
        @($r.importFiles) | Should -Be @(3)
        @($r.rows) | Should -Be @($E2EExpectedRows)
    }

    It 'decompresses the generated gzip blobs by default and keeps them with -Decompress:$false' {
        $r = $E2E.Results['gzip']
        $r.compress | Should -BeTrue
        @($r.plain).Count | Should -Be 2
        @($r.plain) | ForEach-Object { $_ | Should -BeLike '*of2.csv' }
        @($r.kept) | ForEach-Object { $_ | Should -BeLike '*of2.csv.gz' }
        @($r.same) | Should -Be @($true, $true)
        $r.firstLine | Should -Match 'Cost|cost'
    }

    It '-Refresh requests a report whose links expired again, with its token, and saves the fresh blobs' {
        $r = $E2E.Results['refresh']
        [DateTimeOffset]::Parse($r.validTill) | Should -BeLessThan ([DateTimeOffset]::UtcNow)
        @($r.noErrors) | Should -Be @('BlobLinkExpired,AzBillingPS.Commands.SaveAzCostBlobCommand')
        $r.noFiles | Should -Be 0
        $r.errors | Should -BeNullOrEmpty
        @($r.files).Count | Should -Be 2
        @($r.files.op | Select-Object -Unique).Count | Should -Be 1
        $r.files[0].op | Should -Not -Be $r.oldOp
        ($r.verbose -join "`n") | Should -Match '-Refresh requests the report again'
        Get-ChildItem -LiteralPath (Join-Path $E2EOut 'refresh') -Filter *.csv | Should -HaveCount 2
    }

    It 'reports the storage service''s 403 AuthenticationFailed with its code and detail' {
        $r = $E2E.Results['tampered']
        @($r.ids) | Should -Be @('AzBillingAuthenticationFailed,AzBillingPS.Commands.SaveAzCostBlobCommand')
        @($r.code) | Should -Be @('AuthenticationFailed')
        @($r.category) | Should -Be @('AuthenticationError')
        $r.message[0] | Should -Match '403 AuthenticationFailed: Server failed to authenticate the request.*Signature did not match'
        $r.message[0] | Should -Match 'request the report again \(New-AzCostReport\), or run Save-AzCostBlob with -Refresh'
    }

    It 'shows none of the fixture''s secrets (tokens, client secret, generated SAS signatures) in any stream' {
        $E2E.Secrets.Count | Should -BeGreaterThan 3
        $text = $E2E.Run.StdOut + $E2E.Run.StdErr
        $text | Should -Match 'STREAM three VerboseRecord'
        foreach ($secret in $E2E.Secrets) { $text.Contains($secret) | Should -BeFalse }
    }
}

Describe 'Save-AzCostBlob leaks no secret' -Tag 'Blob' {
    It 'shows no SAS signature in any stream, error or file it wrote' {
        if ($NoAzurite) { Set-ItResult -Skipped -Because $NoAzurite; return }
        $Signatures.Count | Should -BeGreaterThan 10
        $Transcript.Count | Should -BeGreaterThan 50
        $all = $Transcript -join "`n"
        $all | Should -Match 'sig=REDACTED'
        foreach ($s in ($Signatures | Select-Object -Unique)) {
            $all.Contains($s) | Should -BeFalse -Because 'a SAS signature must never appear in output, verbose, debug, warnings or errors'
        }
        foreach ($f in Get-ChildItem -LiteralPath $Dir -Recurse -File) {
            foreach ($s in ($Signatures | Select-Object -Unique)) { $f.Name.Contains($s) | Should -BeFalse }
            if ($f.Name -like '*.partial.state') { $text = Get-Content -Raw -LiteralPath $f.FullName; foreach ($s in $Signatures) { $text.Contains($s) | Should -BeFalse } }
        }
    }
}
