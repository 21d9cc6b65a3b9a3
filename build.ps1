#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, packages and benchmarks AzBillingPS.
.DESCRIPTION
    Build    lays out out/AzBillingPS/<version>/ (manifest, cmdlet DLL, Format.ps1xml, en-US help,
             Dependencies/) and checks it against build/allowlist.txt; fetches Pester into out/Pester.
    Test     Build, then xunit (tests/AzBillingPS.Tests) and Pester (tests/pester, in a child pwsh -NoProfile
             importing the built module); installs what the tests lack where it can (PostgreSQL through apt
             when running as root) and ends with 'Tests: N passed, N failed, N skipped'.
    Package  Build, then writes out/packages/AzBillingPS.<version>.nupkg for Install-PSResource.
    Bench    Build, then the benchmarks in bench/ (see docs/benchmarks.md).
    Demo     Build, then import samples/ into ./AzBilling.sqlite, run Sync-AzBilling against the test fixture (a local
             stand-in for Azure) into the same file, and show cost per month and service.
    Clean    Removes out/ and the bin/obj folders.
.EXAMPLE
    dotnet tool restore; dotnet pwsh -NoProfile -File ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Bench', 'Demo', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester tag filter for Test (for example -Tag Import); empty runs everything.
    [string[]] $Tag = @(),

    # Skip xunit (for quick Pester iterations).
    [switch] $SkipXunit,

    # Skip Pester (for quick xunit iterations).
    [switch] $SkipPester,

    # Test: test what out/ already holds (a build downloaded from CI's build job) instead of building first.
    [switch] $NoBuild,

    # Bench: rows in the large file (the issue asks for 1,000,000).
    [int] $BenchRows = 1000000,
    # Bench: run only the Cost Management exports benchmark (its section of docs/benchmarks.md is replaced, the rest kept).
    [switch] $BenchExportsOnly,

    # Bench: run only the import benchmarks, issue 16 section 3 (its section of docs/benchmarks.md is replaced, the rest kept).
    [switch] $BenchImportOnly,
    # Bench: run only the report scheduling benchmark, issue 16 section 1 (its section of docs/benchmarks.md is replaced, the rest kept).
    [switch] $BenchScheduleOnly
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$Manifest = Import-PowerShellDataFile (Join-Path $Root 'module/AzBillingPS.psd1')
$Version = $Manifest.ModuleVersion
$ModuleDir = Join-Path $Out "AzBillingPS/$Version"

function Invoke-Native {
    param([string] $File, [string[]] $Arguments)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Write-Host "Building AzBillingPS $Version ($Configuration)" -ForegroundColor Cyan
    $staging = Join-Path $Out 'obj'
    Remove-Item -Recurse -Force $ModuleDir -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force -Path $ModuleDir, "$ModuleDir/Dependencies", "$ModuleDir/en-US" | Out-Null

    Invoke-Native dotnet @('publish', "$Root/src/AzBillingPS.Engine/AzBillingPS.Engine.csproj", '-c', $Configuration,
        '-o', "$staging/engine", "-p:Version=$Version", '--nologo', '-v', 'quiet')
    Invoke-Native dotnet @('build', "$Root/src/AzBillingPS/AzBillingPS.csproj", '-c', $Configuration,
        '-o', "$staging/cmdlets", "-p:Version=$Version", '--nologo', '-v', 'quiet')

    Copy-Item "$staging/cmdlets/AzBillingPS.dll" $ModuleDir
    Copy-Item "$Root/module/AzBillingPS.psd1", "$Root/module/AzBillingPS.Format.ps1xml" $ModuleDir
    # The FinOps toolkit open data embedded in the engine (MIT) ships with its notice.
    Copy-Item "$Root/src/AzBillingPS.Engine/Exports/OpenData/NOTICE.txt" "$ModuleDir/ThirdPartyNotices.txt"
    Copy-Item -Recurse "$staging/engine/*" "$ModuleDir/Dependencies" -Exclude '*.pdb'
    Get-ChildItem -Recurse -Filter '*.pdb' "$ModuleDir/Dependencies" | Remove-Item

    # Native builds for platforms PowerShell 7.4 does not run on are not shipped.
    $keepRid = 'linux-x64', 'linux-arm64', 'linux-musl-x64', 'linux-musl-arm64', 'osx-x64', 'osx-arm64',
        'win-x64', 'win-x86', 'win-arm64', 'win', 'unix'
    Get-ChildItem "$ModuleDir/Dependencies/runtimes" -Directory |
        Where-Object Name -NotIn $keepRid | Remove-Item -Recurse -Force
    Add-ReadyToRunImages "$staging/engine"

    # Help: MAML + about topic from module/help/, parameter metadata from the built cmdlets, generated into the built
    # module only (out/); fails on undocumented cmdlets/parameters.
    & "$Root/build/New-ModuleHelp.ps1" -ModulePath (Join-Path $ModuleDir 'AzBillingPS.psd1') -OutputPath "$ModuleDir/en-US"

    Test-Layout
    Get-Tools
    Build-TestHosts
    Write-Host "Module laid out in $ModuleDir" -ForegroundColor Green
}

# Platforms that get ReadyToRun images of the first import's assemblies (build/ReadyToRun/ReadyToRun.csproj names them).
$ReadyToRunRids = 'linux-x64', 'win-x64', 'osx-x64'

function Add-ReadyToRunImages {
    # Precompiled code for PowerShell 7.6's runtime (.NET 10) on each platform, beside the portable IL the module runs
    # everywhere else: Dependencies/ReadyToRun/<tfm>-<rid>/. The engine's load context takes the folder of the runtime and
    # platform it runs on, if there is one. The images are kept in out/obj/r2r and made again only when an input changed.
    param([string] $EngineDir)
    $project = "$Root/build/ReadyToRun/ReadyToRun.csproj"
    [xml] $xml = Get-Content -Raw $project
    $tfm = @($xml.Project.PropertyGroup.TargetFramework | Where-Object { $_ })[0]
    $inputs = @($xml.Project.ItemGroup.ReadyToRunInput | Where-Object { $_ } | ForEach-Object { $_.Include -split ';' })
    $hash = [Security.Cryptography.IncrementalHash]::CreateHash('SHA256')
    $hash.AppendData([IO.File]::ReadAllBytes($project))
    foreach ($name in $inputs) { $hash.AppendData([IO.File]::ReadAllBytes("$EngineDir/$name.dll")) }
    $stamp = [Convert]::ToHexString($hash.GetHashAndReset())
    foreach ($rid in $ReadyToRunRids) {
        $cache = Join-Path $Out "obj/r2r/$rid"
        $stampFile = Join-Path $cache 'inputs.sha256'
        if (-not (Test-Path $stampFile) -or (Get-Content -Raw $stampFile).Trim() -ne $stamp) {
            Write-Host "ReadyToRun images for $tfm-$rid"
            Remove-Item -Recurse -Force $cache -ErrorAction SilentlyContinue
            Invoke-Native dotnet @('publish', $project, '-c', 'Release', '-r', $rid, "-p:InputDir=$EngineDir", '-p:DebugType=none',
                '-o', $cache, '--nologo', '-v', 'quiet')
            Set-Content -LiteralPath $stampFile -Value $stamp
        }
        $target = New-Item -ItemType Directory -Force "$ModuleDir/Dependencies/ReadyToRun/$tfm-$rid"
        foreach ($name in $inputs) { Copy-Item "$cache/$name.dll" $target }
    }
}

function Test-Layout {
    $allowed = Get-Content "$Root/build/allowlist.txt" | Where-Object { $_ -and -not $_.StartsWith('#') }
    $present = Get-ChildItem -Recurse -File $ModuleDir | ForEach-Object {
        [IO.Path]::GetRelativePath($ModuleDir, $_.FullName).Replace('\', '/')
    }
    $missing = @($allowed | Where-Object { $_ -notin $present })
    $extra = @($present | Where-Object { $_ -notin $allowed })
    if ($missing -or $extra) {
        throw "Module layout differs from build/allowlist.txt.`nMissing: $($missing -join ', ')`nUnexpected: $($extra -join ', ')"
    }
}

function Get-Tools {
    # Pester and the isolation test's older assemblies come through an ordinary NuGet restore.
    $pester = Join-Path $Out 'Pester'
    if (-not (Test-Path "$pester/Pester.psd1")) {
        Invoke-Native dotnet @('restore', "$Root/build/tools.proj", '--nologo', '-v', 'quiet')
        $packages = Get-NuGetPackagesRoot
        Copy-Item -Recurse "$packages/pester/5.7.1/tools" $pester
    }
}

function Build-TestHosts {
    # Test executables (the fixture that plays Entra ID and Cost Management, the data generator) go to out/.
    foreach ($p in 'AzBillingPS.Fixture', 'AzBillingPS.TestData') {
        $proj = "$Root/tests/$p/$p.csproj"
        if (Test-Path $proj) {
            Invoke-Native dotnet @('build', $proj, '-c', $Configuration, '-o', "$Out/$p", '--nologo', '-v', 'quiet')
        }
    }
}

function Get-NuGetPackagesRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = dotnet nuget locals global-packages --list
    return ($line -replace '^global-packages:\s*', '').Trim()
}

function Invoke-Test {
    if ($NoBuild) {
        if (-not (Test-Path (Join-Path $ModuleDir 'AzBillingPS.psd1'))) { throw "-NoBuild: there is no built module in $ModuleDir." }
        Write-Host "Testing the module already built in $ModuleDir (-NoBuild)" -ForegroundColor Cyan
    }
    else {
        Invoke-Package
    }
    $results = Join-Path $Out 'test-results'
    Remove-Item -Recurse -Force $results -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $results | Out-Null
    $skipNotes = [System.Collections.Generic.List[string]]::new()

    . "$Root/tests/Prerequisites.ps1"
    $prereq = Install-TestPrerequisites
    foreach ($n in $prereq.Notes) { $skipNotes.Add($n) }

    $total = @{ Passed = 0; Failed = 0; Skipped = 0 }

    if (-not $SkipXunit) {
        Write-Host 'xunit: tests/AzBillingPS.Tests' -ForegroundColor Cyan
        & dotnet test "$Root/tests/AzBillingPS.Tests/AzBillingPS.Tests.csproj" -c $Configuration --nologo `
            --logger "trx;LogFileName=xunit.trx" --results-directory $results
        $trx = Get-ChildItem -Recurse -Filter 'xunit.trx' $results | Select-Object -First 1
        if ($trx) {
            [xml] $doc = Get-Content -Raw $trx.FullName
            $c = $doc.TestRun.ResultSummary.Counters
            $total.Passed += [int]$c.passed
            $total.Failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
            $total.Skipped += [int]$c.notExecuted
            Write-Host "xunit: $($c.passed) passed, $($c.failed) failed, $($c.notExecuted) skipped"
        }
        else {
            Write-Host 'xunit: no results (the build or the run failed)' -ForegroundColor Red
            $total.Failed += 1
        }
    }

    if (-not $SkipPester) {
        Write-Host 'Pester: tests/pester (child pwsh -NoProfile importing the built module)' -ForegroundColor Cyan
        $summary = Join-Path $results 'pester-summary.json'
        # Under 'dotnet pwsh' (the repo's tool manifest) this process is dotnet itself: start '<dotnet> <PSHOME>/pwsh.dll'.
        $pwsh = [Environment]::ProcessPath
        $pwshArgs = @()
        if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $pwshArgs = @(Join-Path $PSHOME 'pwsh.dll') }
        $env:AZBILLING_MODULE_PATH = Join-Path $ModuleDir 'AzBillingPS.psd1'
        $env:AZBILLING_REPO_ROOT = $Root
        $env:AZBILLING_TEST_PG_BIN = $prereq.PgBin
        # 'pwsh -File build.ps1 -Tag A,B' passes one string: split it.
        $Tag = @($Tag | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
        $tagArg = if ($Tag) { ($Tag | ForEach-Object { "'$_'" }) -join ',' } else { '' }
        $tagOn = if ($Tag) { '$true' } else { '$false' }
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$Out/Pester/Pester.psd1' -Force
`$c = New-PesterConfiguration
`$c.Run.Path = '$Root/tests/pester'
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Detailed'
`$c.TestResult.Enabled = `$true
`$c.TestResult.OutputFormat = 'NUnitXml'
`$c.TestResult.OutputPath = '$results/pester.xml'
if ($tagOn) { `$c.Filter.Tag = @($tagArg) }
`$r = Invoke-Pester -Configuration `$c
@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount; Skipped = `$r.SkippedCount + `$r.NotRunCount;
   SkippedTests = @(`$r.Skipped | ForEach-Object { `$_.ExpandedPath }) } | ConvertTo-Json | Set-Content '$summary'
"@
        & $pwsh @pwshArgs -NoProfile -NonInteractive -Command $script
        if (Test-Path $summary) {
            $p = Get-Content -Raw $summary | ConvertFrom-Json
            $total.Passed += $p.Passed; $total.Failed += $p.Failed; $total.Skipped += $p.Skipped
            Write-Host "Pester: $($p.Passed) passed, $($p.Failed) failed, $($p.Skipped) skipped"
            if ($p.SkippedTests) { $skipNotes.Add("Pester skipped: $($p.SkippedTests -join '; ')") }
        }
        else {
            Write-Host 'Pester: no results (the run failed before it could report)' -ForegroundColor Red
            $total.Failed += 1
        }
    }

    foreach ($n in $skipNotes) { Write-Host "Skipped: $n" -ForegroundColor Yellow }
    Write-Host "Tests: $($total.Passed) passed, $($total.Failed) failed, $($total.Skipped) skipped"
    if ($total.Failed -gt 0) { exit 1 }
}

function Invoke-Package {
    Invoke-Build
    $repo = Join-Path $Out 'packages'
    New-Item -ItemType Directory -Force $repo | Out-Null
    Get-ChildItem $repo -Filter 'AzBillingPS.*.nupkg' | Remove-Item
    # Publish-PSResource to a local folder repository writes the .nupkg that Install-PSResource expects.
    $name = "AzBillingPS-build-$PID"
    Register-PSResourceRepository -Name $name -Uri $repo -Trusted | Out-Null
    try {
        Publish-PSResource -Path $ModuleDir -Repository $name -SkipDependenciesCheck -SkipModuleManifestValidate
    }
    finally {
        Unregister-PSResourceRepository -Name $name
    }
    Get-ChildItem $repo -Filter 'AzBillingPS.*.nupkg' | ForEach-Object { Write-Host "Package: $($_.FullName)" -ForegroundColor Green }
}

function Invoke-Bench {
    Invoke-Build
    # Azurite (blob and Sync benchmarks) and PostgreSQL, as for the tests; what cannot be had is noted in the report.
    . "$Root/tests/Prerequisites.ps1"
    $null = Install-TestPrerequisites
    & "$Root/bench/Invoke-Benchmarks.ps1" -ModulePath (Join-Path $ModuleDir 'AzBillingPS.psd1') -Rows $BenchRows -ExportsOnly:$BenchExportsOnly -ImportOnly:$BenchImportOnly -ScheduleOnly:$BenchScheduleOnly
}

function Invoke-Demo {
    Invoke-Build
    & "$Root/samples/Invoke-Demo.ps1" -ModulePath (Join-Path $ModuleDir 'AzBillingPS.psd1')
}

function Invoke-Clean {
    Remove-Item -Recurse -Force $Out -ErrorAction SilentlyContinue
    Get-ChildItem -Path "$Root/src", "$Root/tests" -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Package' { Invoke-Package }
    'Bench' { Invoke-Bench }
    'Demo' { Invoke-Demo }
    'Clean' { Invoke-Clean }
}
