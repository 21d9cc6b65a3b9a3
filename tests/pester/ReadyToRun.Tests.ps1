#Requires -Version 7.4
# The ReadyToRun images under Dependencies/ReadyToRun/<tfm>-<rid>/ (build/ReadyToRun/ReadyToRun.csproj): the same
# assemblies as the portable ones beside them, precompiled per platform for PowerShell 7.6's runtime. The engine's load
# context takes them only on the runtime and platform they were made for; anywhere else (a copy of the module without
# them stands in for another platform) the portable assemblies load. Which methods the JIT compiled comes from the
# runtime's own summary (DOTNET_JitStdOutFile with DOTNET_JitDisasmSummary).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModuleDir = Split-Path $env:AZBILLING_MODULE_PATH
    $script:Deps = Join-Path $ModuleDir 'Dependencies'
    $script:Images = Join-Path $Deps 'ReadyToRun'
    $os = if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' }
    $arch = ([Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture).ToString().ToLowerInvariant()
    $script:Here = "net$([Environment]::Version.Major).0-$os-$arch"
    $script:Shipped = @(Get-ChildItem -LiteralPath $Images -Directory -ErrorAction SilentlyContinue | ForEach-Object Name)

    function Get-PeFacts([string] $Path) {
        $s = [IO.File]::OpenRead($Path)
        try {
            $pe = [Reflection.PortableExecutable.PEReader]::new($s)
            $md = [Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            [pscustomobject]@{
                Name      = [Reflection.AssemblyName]::GetAssemblyName($Path).FullName
                Mvid      = $md.GetGuid($md.GetModuleDefinition().Mvid)
                ReadyToRun = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0
                Machine   = [int]$pe.PEHeaders.CoffHeader.Machine
            }
        }
        finally { $s.Dispose() }
    }

    # One import of a small file in a fresh pwsh; returns where each engine assembly came from and which of the engine's
    # own methods the JIT had to compile at tier 0 (a precompiled method is never compiled at tier 0).
    function Invoke-ImportWithJitLog([string] $Manifest, [string] $Name) {
        $jit = Join-Path $TestDrive "$Name-jit.txt"
        $db = Join-Path $TestDrive "$Name.sqlite"
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$Manifest'
`$r = Import-AzCostToSql -Path '$File' -Scope '/subscriptions/00000000-0000-0000-0000-000000000000' -Metric ActualCost -DatabasePath '$db' -Confirm:`$false
`$ctx = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -EQ 'AzBillingPS'
'R2R-JSON ' + (@{ Rows = `$r.RowsInserted; Assemblies = @(`$ctx.Assemblies | ForEach-Object { @{ Name = `$_.GetName().Name; Location = `$_.Location } }) } | ConvertTo-Json -Compress -Depth 4)
"@
        $child = Invoke-ChildPwsh -Script $script -NoImport -TimeoutSeconds 180 -WorkingDirectory $TestDrive `
            -Environment @{ DOTNET_JitStdOutFile = $jit; DOTNET_JitDisasmSummary = '1' }
        $line = @($child.Output | Where-Object { $_ -like 'R2R-JSON *' }) | Select-Object -First 1
        if (-not $line) { throw "The child pwsh failed (exit $($child.ExitCode)): $($child.StdErr) $($child.Output -join ' ')" }
        $report = $line.Substring('R2R-JSON '.Length) | ConvertFrom-Json
        $tier0 = @(Get-Content -LiteralPath $jit | Where-Object { $_ -match 'JIT compiled AzBillingPS\.Engine\.[^ (]*:.*\[(Instrumented )?Tier0' })
        [pscustomobject]@{ Rows = $report.Rows; Assemblies = $report.Assemblies; EngineTier0 = $tier0 }
    }

    $script:File = Join-Path $TestDrive 'ea.csv'
    New-TestCostFile -Kind Ea -Rows 2000 -Month '2026-03' -Path $File | Out-Null
}

Describe 'ReadyToRun images of the first import''s assemblies' -Tag 'Isolation', 'ReadyToRun' {
    It 'are shipped for linux-x64, osx-x64 and win-x64: the portable assembly''s identity and IL, precompiled for that platform' {
        $Shipped | Sort-Object | Should -Be @('net10.0-linux-x64', 'net10.0-osx-x64', 'net10.0-win-x64')
        # The COFF machine of a ReadyToRun image is the architecture's, xor a constant for the target OS (Windows: none).
        $machine = @{ 'win-x64' = 0x8664; 'linux-x64' = 0x8664 -bxor 0x7B79; 'osx-x64' = 0x8664 -bxor 0x4644 }
        foreach ($folder in $Shipped) {
            $dlls = @(Get-ChildItem -LiteralPath (Join-Path $Images $folder) -Filter '*.dll')
            $dlls.Name | Should -Contain 'AzBillingPS.Engine.dll'
            $dlls.Name | Should -Contain 'Npgsql.dll'
            $dlls.Name | Should -Contain 'Microsoft.Data.Sqlite.dll'
            foreach ($image in $dlls) {
                $portable = Get-PeFacts (Join-Path $Deps $image.Name)
                $facts = Get-PeFacts $image.FullName
                $facts.Name | Should -Be $portable.Name -Because "$folder/$($image.Name) stands in for the portable assembly"
                $facts.Mvid | Should -Be $portable.Mvid -Because "$folder/$($image.Name) holds the portable assembly's IL"
                $portable.ReadyToRun | Should -BeFalse
                $facts.ReadyToRun | Should -BeTrue -Because "$folder/$($image.Name) is precompiled"
                $facts.Machine | Should -Be $machine[$folder.Substring($folder.IndexOf('-') + 1)] -Because "$folder/$($image.Name) is for its platform"
            }
        }
    }

    It 'on their runtime and platform: the engine and its providers load from the images and the engine''s code runs precompiled' {
        if ($Here -notin $Shipped) { Set-ItResult -Skipped -Because "no images for $Here (images: $($Shipped -join ', '))"; return }
        $r = Invoke-ImportWithJitLog $env:AZBILLING_MODULE_PATH 'images'
        $r.Rows | Should -Be 2000
        @($r.Assemblies.Name) | Should -Contain 'CsvHelper'
        @($r.Assemblies.Name) | Should -Contain 'Microsoft.Data.Sqlite'
        foreach ($asm in $r.Assemblies) {
            $image = Join-Path $Images "$Here/$($asm.Name).dll"
            # An assembly without an image (none of this import's, today) loads from Dependencies/ as before.
            $asm.Location | Should -Be $(if (Test-Path -LiteralPath $image) { $image } else { Join-Path $Deps "$($asm.Name).dll" })
        }
        @($r.Assemblies | Where-Object Name -EQ 'AzBillingPS.Engine').Location | Should -Be (Join-Path $Images "$Here/AzBillingPS.Engine.dll")
        $r.EngineTier0 | Should -BeNullOrEmpty -Because 'every method of the engine this import ran was precompiled'
    }

    It 'elsewhere (a module without images for this platform): the portable assemblies load, the JIT compiles the engine, the rows are the same' {
        $copy = Join-Path $TestDrive 'module'
        Copy-Item -Recurse -LiteralPath $ModuleDir -Destination $copy
        Remove-Item -Recurse -Force -LiteralPath (Join-Path $copy 'Dependencies/ReadyToRun')
        $r = Invoke-ImportWithJitLog (Join-Path $copy 'AzBillingPS.psd1') 'portable'
        $r.Rows | Should -Be 2000
        @($r.Assemblies | Where-Object Name -EQ 'AzBillingPS.Engine').Location | Should -Be (Join-Path $copy 'Dependencies/AzBillingPS.Engine.dll')
        $r.EngineTier0.Count | Should -BeGreaterThan 50 -Because 'without images the engine''s methods are compiled as they first run (this is what the test above would see if its images were not used)'
    }
}
