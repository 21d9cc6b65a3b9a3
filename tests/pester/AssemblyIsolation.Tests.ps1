#Requires -Version 7.4
# A session that already holds an older Microsoft.Identity.Client (4.61.3) and Microsoft.Data.Sqlite (8.0.30), as
# Az.Accounts or another module would leave it, imports AzBillingPS: our cmdlets still work, our engine and its
# MSAL and SQLite provider sit in the module's own AssemblyLoadContext ('AzBillingPS'), and the older assemblies
# stay what the default context sees. Runs in a fresh child pwsh so nothing else has loaded anything first.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) {
        $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1'
    }

    # The NuGet global packages folder, where build.ps1's restore of build/tools.proj put the older packages.
    $root = $env:NUGET_PACKAGES
    if (-not $root) {
        $line = & (Get-TestDotnet) nuget locals global-packages --list 2>$null | Select-Object -First 1
        $root = ("$line" -replace '^global-packages:\s*', '').Trim()
    }
    $script:PackagesRoot = $root
    $script:OldMsal = @('net6.0', 'netstandard2.0') |
        ForEach-Object { Join-Path $root "microsoft.identity.client/4.61.3/lib/$_/Microsoft.Identity.Client.dll" } |
        Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    $script:OldSqlite = @('net8.0', 'net6.0', 'netstandard2.0') |
        ForEach-Object { Join-Path $root "microsoft.data.sqlite.core/8.0.30/lib/$_/Microsoft.Data.Sqlite.dll" } |
        Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    $script:MissingReason = if (-not $OldMsal -or -not $OldSqlite) {
        "the older packages are not in the NuGet cache ($root); run build.ps1 -Task Build (it restores build/tools.proj)"
    }

    $script:Work = Join-Path ([IO.Path]::GetTempPath()) ("azb-iso-" + [guid]::NewGuid().ToString('N').Substring(0, 10))
    New-Item -ItemType Directory -Path $Work | Out-Null

    function ConvertTo-PsLiteral([string] $s) { "'" + $s.Replace("'", "''") + "'" }

    $script:Child = $null
    if (-not $MissingReason) {
        $sample = Join-Path $RepoRoot 'tests/data/md-dates.csv'
        $db = Join-Path $Work 'iso.sqlite'
        $script:Db = $db
        $childScript = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path $(ConvertTo-PsLiteral $OldMsal)
Add-Type -Path $(ConvertTo-PsLiteral $OldSqlite)
Import-Module `$env:AZBILLING_MODULE_PATH -ErrorAction Stop
`$r = Import-AzCostToSql -Path $(ConvertTo-PsLiteral $sample) -Scope '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f' -DatabasePath $(ConvertTo-PsLiteral $db) -Confirm:`$false
# Make the engine build an MSAL client: a client-secret sign-in against a closed local port (it fails, as it should).
`$tokenError = `$null
try {
    `$secret = ConvertTo-SecureString 'not-a-secret' -AsPlainText -Force
    Get-AzBillingToken -TenantId '00000000-0000-0000-0000-000000000001' -ClientId '00000000-0000-0000-0000-000000000002' -ClientSecret `$secret -AuthorityHost 'https://127.0.0.1:1/' -ErrorAction Stop | Out-Null
}
catch { `$tokenError = `$_.FullyQualifiedErrorId }
`$alc = [System.Runtime.Loader.AssemblyLoadContext]
`$loaded = foreach (`$ctx in `$alc::All) {
    foreach (`$asm in `$ctx.Assemblies) {
        `$n = `$asm.GetName()
        if (`$n.Name -in 'AzBillingPS.Engine', 'Microsoft.Identity.Client', 'Microsoft.Data.Sqlite') {
            [pscustomobject]@{ Name = `$n.Name; Version = `$n.Version.ToString(); Context = `$alc::GetLoadContext(`$asm).Name; Location = `$asm.Location }
        }
    }
}
# What a script in the session sees when it names the type (resolved through the default context).
`$visibleMsal = [Microsoft.Identity.Client.PublicClientApplication].Assembly
`$visibleSqlite = [Microsoft.Data.Sqlite.SqliteConnection].Assembly
[pscustomobject]@{
    RowsInserted        = `$r.RowsInserted
    TokenError          = `$tokenError
    VisibleMsalVersion  = `$visibleMsal.GetName().Version.ToString()
    VisibleMsalContext  = `$alc::GetLoadContext(`$visibleMsal).Name
    VisibleSqliteVersion = `$visibleSqlite.GetName().Version.ToString()
    VisibleSqliteContext = `$alc::GetLoadContext(`$visibleSqlite).Name
    Assemblies          = @(`$loaded)
} | ConvertTo-Json -Depth 4 -Compress | ForEach-Object { "ISOLATION-JSON `$_" }
"@
        $script:Child = Invoke-ChildPwsh -Script $childScript -NoImport -TimeoutSeconds 180 -WorkingDirectory $Work
        $json = @($Child.Output | Where-Object { $_ -like 'ISOLATION-JSON *' }) | Select-Object -First 1
        $script:Report = if ($json) { $json.Substring('ISOLATION-JSON '.Length) | ConvertFrom-Json } else { $null }
        if ($Report) {
            # Printed for the log: what each context holds.
            Write-Host "Default-context MSAL: $($Report.VisibleMsalVersion) ($($Report.VisibleMsalContext)); SQLite: $($Report.VisibleSqliteVersion) ($($Report.VisibleSqliteContext))"
            foreach ($a in $Report.Assemblies) { Write-Host ("  {0} {1} in '{2}' ({3})" -f $a.Name, $a.Version, $a.Context, $a.Location) }
        }
    }
}

AfterAll {
    Remove-Item -Recurse -Force -LiteralPath $script:Work -ErrorAction SilentlyContinue
}

Describe 'AzBillingPS next to older MSAL and Microsoft.Data.Sqlite' -Tag 'Isolation' {
    BeforeEach {
        if ($MissingReason) { Set-ItResult -Skipped -Because $MissingReason }
    }

    It 'the child session ran and reported' {
        $Child.TimedOut | Should -BeFalse
        $Child.ExitCode | Should -Be 0 -Because $Child.StdErr
        $Report | Should -Not -BeNullOrEmpty -Because "the child prints its report (stdout: $($Child.StdOut) stderr: $($Child.StdErr))"
    }

    It 'Import-AzCostToSql still works' {
        $Report.RowsInserted | Should -Be 7
        Test-Path -LiteralPath $Db | Should -BeTrue
    }

    It 'the session still sees the older assemblies it loaded first, in the default context' {
        $Report.VisibleMsalVersion | Should -Be '4.61.3.0'
        $Report.VisibleMsalContext | Should -Be 'Default'
        $Report.VisibleSqliteVersion | Should -BeLike '8.0.*'
        $Report.VisibleSqliteContext | Should -Be 'Default'
        $oldMsal = @($Report.Assemblies | Where-Object { $_.Name -eq 'Microsoft.Identity.Client' -and $_.Context -eq 'Default' })
        $oldMsal.Count | Should -Be 1
        $oldMsal[0].Version | Should -Be '4.61.3.0'
    }

    It 'the engine sits in the AzBillingPS load context' {
        $engine = @($Report.Assemblies | Where-Object Name -EQ 'AzBillingPS.Engine')
        $engine.Count | Should -Be 1
        $engine[0].Context | Should -Be 'AzBillingPS'
        @($Report.Assemblies | Where-Object { $_.Name -eq 'AzBillingPS.Engine' -and $_.Context -ne 'AzBillingPS' }).Count | Should -Be 0
    }

    It "the engine's Microsoft.Data.Sqlite is the module's 9.0 copy, in the AzBillingPS context" {
        $mine = @($Report.Assemblies | Where-Object { $_.Name -eq 'Microsoft.Data.Sqlite' -and $_.Context -eq 'AzBillingPS' })
        $mine.Count | Should -Be 1
        $mine[0].Version | Should -BeLike '9.0.*'
        $mine[0].Location | Should -BeLike '*Dependencies*'
        $old = @($Report.Assemblies | Where-Object { $_.Name -eq 'Microsoft.Data.Sqlite' -and $_.Context -eq 'Default' })
        $old.Count | Should -Be 1
        $old[0].Version | Should -BeLike '8.0.*'
    }

    It "the engine's Microsoft.Identity.Client is the module's 4.92.0.0, in the AzBillingPS context" {
        $mine = @($Report.Assemblies | Where-Object { $_.Name -eq 'Microsoft.Identity.Client' -and $_.Context -eq 'AzBillingPS' })
        $mine.Count | Should -Be 1 -Because "Get-AzBillingToken made the engine build an MSAL client (its error: $($Report.TokenError))"
        $mine[0].Version | Should -Be '4.92.0.0'
        $mine[0].Location | Should -BeLike '*Dependencies*'
    }
}
