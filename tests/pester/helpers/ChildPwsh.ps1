# Dot-sourced by ../TestHelpers.psm1 (which exports the functions): child PowerShell processes that import the built module.

function Get-TestPwshCommand {
    <#
    .SYNOPSIS
        The executable (and leading arguments) that starts the same PowerShell as this one.
    .DESCRIPTION
        Under 'dotnet pwsh' (the repo's tool manifest) the process is dotnet itself, so the child must be started
        as 'dotnet <PSHOME>/pwsh.dll'.
    #>
    [CmdletBinding()]
    param()
    $process = [Environment]::ProcessPath
    if (-not $process) { $process = (Get-Process -Id $PID).Path }
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') {
        return [pscustomobject]@{ FilePath = $process; Arguments = @(Join-Path $PSHOME 'pwsh.dll') }
    }
    return [pscustomobject]@{ FilePath = $process; Arguments = @() }
}

function Get-TestPeakMemory {
    # Peak resident set (VmHWM) of a live process in bytes, or $null where /proc is not available.
    param([int] $ProcessId)
    $status = "/proc/$ProcessId/status"
    try {
        foreach ($line in [IO.File]::ReadAllLines($status)) {
            if ($line.StartsWith('VmHWM:')) {
                return [long]($line -replace '\D', '') * 1024
            }
        }
    }
    catch [System.IO.IOException], [System.UnauthorizedAccessException] { }
    return $null
}

function Invoke-ChildPwsh {
    <#
    .SYNOPSIS
        Runs a script in a fresh 'pwsh -NoProfile -NonInteractive' that first imports $env:AZBILLING_MODULE_PATH.
    .OUTPUTS
        ExitCode, StdOut, StdErr, Output (stdout lines), TimedOut, Duration, ProcessId,
        PeakWorkingSetBytes (peak resident set of the child, polled from /proc/<pid>/status VmHWM on Linux).
    .EXAMPLE
        $r = Invoke-ChildPwsh -Script 'Get-Command -Module AzBillingPS | Measure-Object | % Count'
        $r.ExitCode | Should -Be 0
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Script,
        # Variables to set (a $null value removes the variable) on top of this process's environment.
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 300,
        # Do not import the module first.
        [switch] $NoImport,
        [string] $WorkingDirectory = (Get-Location).ProviderPath
    )
    $pwsh = Get-TestPwshCommand
    $file = Join-Path ([IO.Path]::GetTempPath()) ("azb-child-$([guid]::NewGuid().ToString('N')).ps1")
    $prelude = if ($NoImport) { '' } else {
        # AZBILLING_TEST_PACING_SCALE (the fixture's ChildEnv sets 0) and AZBILLING_TEST_DB_RETRY_SCALE reach the engine through its test hooks.
        "if (`$env:AZBILLING_MODULE_PATH) { Import-Module `$env:AZBILLING_MODULE_PATH -ErrorAction Stop; if (`$env:AZBILLING_TEST_PACING_SCALE) { [AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', [double] `$env:AZBILLING_TEST_PACING_SCALE) }; if (`$env:AZBILLING_TEST_DB_RETRY_SCALE) { [AzBillingPS.Internal.InternalHooks]::SetTestHook('DbRetryScale', [double] `$env:AZBILLING_TEST_DB_RETRY_SCALE) } }`n"
    }
    Set-Content -LiteralPath $file -Value ($prelude + $Script) -Encoding utf8NoBOM

    $psi = [Diagnostics.ProcessStartInfo]::new($pwsh.FilePath)
    foreach ($a in $pwsh.Arguments) { $psi.ArgumentList.Add($a) }
    foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.StandardOutputEncoding = [Text.UTF8Encoding]::new($false)
    $psi.StandardErrorEncoding = [Text.UTF8Encoding]::new($false)
    foreach ($k in $Environment.Keys) {
        if ($null -eq $Environment[$k]) { [void] $psi.Environment.Remove($k) }
        else { $psi.Environment[$k] = [string] $Environment[$k] }
    }

    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($psi)
    try {
        $p.StandardInput.Close()
        $outTask = $p.StandardOutput.ReadToEndAsync()
        $errTask = $p.StandardError.ReadToEndAsync()
        $peak = $null
        $timedOut = $false
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while (-not $p.WaitForExit(50)) {
            $m = Get-TestPeakMemory -ProcessId $p.Id
            if ($null -ne $m -and ($null -eq $peak -or $m -gt $peak)) { $peak = $m }
            if ([DateTime]::UtcNow -gt $deadline) {
                $timedOut = $true
                $p.Kill($true)
                [void] $p.WaitForExit(10000)
                break
            }
        }
        $p.WaitForExit()
        $watch.Stop()
        if ($null -eq $peak -and -not $IsLinux) {
            try { $peak = $p.PeakWorkingSet64 } catch { $peak = $null }
        }
        $stdout = $outTask.GetAwaiter().GetResult()
        $stderr = $errTask.GetAwaiter().GetResult()
        return [pscustomobject]@{
            ExitCode            = if ($timedOut) { -1 } else { $p.ExitCode }
            StdOut              = $stdout
            StdErr              = $stderr
            Output              = @($stdout -split '\r?\n' | Where-Object { $_ -ne '' })
            TimedOut            = $timedOut
            Duration            = $watch.Elapsed
            ProcessId           = $p.Id
            PeakWorkingSetBytes = $peak
        }
    }
    finally {
        $p.Dispose()
        Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue
    }
}
