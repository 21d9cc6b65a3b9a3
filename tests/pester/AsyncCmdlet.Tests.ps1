#Requires -Version 7.4
# The async pump every AzBillingPS cmdlet runs on (src/AzBillingPS/Internal/AsyncCmdlet.cs), tested through cmdlets of
# its own compiled here against the built module: writes from the thread pool reach the pipeline in order, ShouldProcess
# is asked on the pipeline thread, Stop (Ctrl+C) ends the pump at once and the command once the work has cleaned up,
# a failure downstream cancels the work, provider paths resolve on the pipeline thread only.

BeforeAll {
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $dir = Split-Path $env:AZBILLING_MODULE_PATH
    $source = @'
using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Internal;

namespace PumpTests;

public static class Flags
{
    public static volatile bool CleanedUp;
    public static volatile int Written;
    public static volatile bool Cancelled;
    public static volatile bool Waiting;
}

[Cmdlet(VerbsDiagnostic.Test, "Pump", SupportsShouldProcess = true)]
public sealed class TestPumpCommand : AsyncCmdlet
{
    [Parameter] public int Count { get; set; } = 1000;
    [Parameter] public SwitchParameter Wait { get; set; }
    [Parameter] public SwitchParameter Endless { get; set; }
    [Parameter] public SwitchParameter Ask { get; set; }
    [Parameter] public string? ResolveOffThread { get; set; }
    [Parameter] public string? Resolve { get; set; }
    [Parameter] public SwitchParameter Fail { get; set; }
    [Parameter] public SwitchParameter WarnAdvice { get; set; }

    protected override async Task EndProcessingAsync()
    {
        Flags.CleanedUp = false;
        Flags.Written = 0;
        Flags.Cancelled = false;
        Flags.Waiting = false;
        if (Ask)
        {
            WriteObjectAsync(await ShouldProcessAsync("target", "action"));
            WriteObjectAsync(Environment.CurrentManagedThreadId);
            return;
        }

        if (Resolve is not null)
        {
            WriteObjectAsync(await OnPipelineAsync(() => UnresolvedPath(Resolve)));
            return;
        }

        if (ResolveOffThread is not null)
        {
            WriteObjectAsync(UnresolvedPath(ResolveOffThread));
            return;
        }

        if (WarnAdvice)
        {
            CreateLog().Warning("The cache is not safe.", AzBillingPS.Engine.Common.EngineAdvice.RemoveTokenCache);
            return;
        }

        if (Fail)
        {
            throw new AzBillingPS.Engine.Common.EngineException(AzBillingPS.Engine.Common.EngineErrorKind.NotFound, "Nothing there.");
        }

        try
        {
            if (Wait)
            {
                Flags.Waiting = true;
                await Task.Delay(TimeSpan.FromMinutes(5), CancellationToken);
            }

            int i = 0;
            while (Endless || i < Count)
            {
                // Several writers at once: the pump still writes each one's objects in their order.
                await Task.Run(() => WriteObjectAsync(i), CancellationToken);
                Flags.Written = ++i;
                if (Endless)
                {
                    await Task.Delay(1, CancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            Flags.Cancelled = true;
            throw;
        }
        finally
        {
            // Cleanup that takes a while (a rollback): the stopped command returns only after it.
            Thread.Sleep(300);
            Flags.CleanedUp = true;
        }
    }
}
'@
    $script:Assembly = Add-Type -TypeDefinition $source -ReferencedAssemblies (Join-Path $dir 'AzBillingPS.dll'), (Join-Path $dir 'Dependencies/AzBillingPS.Engine.dll'), 'System.Management.Automation', 'System.Threading', 'System.Threading.Thread', 'System.Runtime', 'System.Console' -IgnoreWarnings -WarningAction SilentlyContinue -PassThru |
        Select-Object -First 1 -ExpandProperty Assembly
    Import-Module -Assembly $Assembly -Force

    function Invoke-Stopped([hashtable] $Parameters, [scriptblock] $Until) {
        $iss = [initialsessionstate]::CreateDefault2()
        $iss.Commands.Add([System.Management.Automation.Runspaces.SessionStateCmdletEntry]::new('Test-Pump', [PumpTests.TestPumpCommand], $null))
        $ps = [powershell]::Create($iss)
        try {
            [void] $ps.AddCommand('Test-Pump').AddParameters($Parameters)
            $out = [System.Management.Automation.PSDataCollection[object]]::new()
            $in = [System.Management.Automation.PSDataCollection[object]]::new(); $in.Complete()
            $handle = $ps.BeginInvoke($in, $out)
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ([DateTime]::UtcNow -lt $deadline -and -not (& $Until)) { Start-Sleep -Milliseconds 20 }
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $sw.Stop()
            [pscustomobject]@{ Seconds = $sw.Elapsed.TotalSeconds; State = "$($ps.InvocationStateInfo.State)"; CleanedUp = [PumpTests.Flags]::CleanedUp; Cancelled = [PumpTests.Flags]::Cancelled; Output = $out.Count }
        }
        finally { $ps.Dispose() }
    }
}

Describe 'The async pump (AsyncCmdlet)' -Tag 'Pump' {
    It 'writes what the work writes from the thread pool, all of it, in order' {
        $out = @(Test-Pump -Count 2000)
        $out.Count | Should -Be 2000
        $out | Should -Be @(0..1999)
    }

    It 'asks ShouldProcess on the pipeline thread and gives the answer back to the work' {
        (Test-Pump -Ask -WhatIf)[0] | Should -BeFalse
        $yes = Test-Pump -Ask -Confirm:$false
        $yes[0] | Should -BeTrue
        $yes[1] | Should -Not -Be ([Environment]::CurrentManagedThreadId) -Because 'the work ran off the pipeline thread'
    }

    It 'on Stop, ends at once while the work waits, and returns only after the work has cleaned up' {
        $r = Invoke-Stopped @{ Wait = $true } { [PumpTests.Flags]::Waiting }
        $r.State | Should -Be 'Stopped'
        $r.Cancelled | Should -BeTrue -Because 'the stop token reaches the wait'
        $r.CleanedUp | Should -BeTrue -Because 'Stop returns after the work''s cleanup, not before'
        $r.Seconds | Should -BeLessThan 5
    }

    It 'on Stop, stops writing and ends a work that keeps writing' {
        $r = Invoke-Stopped @{ Endless = $true } { [PumpTests.Flags]::Written -gt 50 }
        $r.State | Should -Be 'Stopped'
        $r.CleanedUp | Should -BeTrue
        $r.Seconds | Should -BeLessThan 5
        $r.Output | Should -BeLessOrEqual ([PumpTests.Flags]::Written)
    }

    It 'cancels the work when the pipeline downstream fails, and reports that failure' {
        { Test-Pump -Endless | ForEach-Object { if ($_ -eq 10) { throw 'downstream says no' } } } | Should -Throw '*downstream says no*'
        [PumpTests.Flags]::Cancelled | Should -BeTrue
        [PumpTests.Flags]::CleanedUp | Should -BeTrue
    }

    It 'maps an engine exception escaping the work to a terminating error with its id and category' {
        $e = { Test-Pump -Fail -ErrorAction Stop } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingNotFound,*'
        $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'resolves provider paths on the pipeline thread ($PWD, PSDrives) and refuses to off it' {
        New-PSDrive -Name PumpDrive -PSProvider FileSystem -Root ([IO.Path]::GetTempPath()) | Out-Null
        try {
            Test-Pump -Resolve 'PumpDrive:/x.csv' | Should -Be (Join-Path ([IO.Path]::GetTempPath()) 'x.csv')
            { Test-Pump -ResolveOffThread 'PumpDrive:/x.csv' -ErrorAction Stop } | Should -Throw '*off the pipeline thread*'
        }
        finally { Remove-PSDrive PumpDrive }
    }

    It 'words the engine''s advice to sign in again in each command''s terms (the engine names no command)' {
        $advise = [AzBillingPS.Internal.AsyncCmdlet].GetMethod('Advise', [Reflection.BindingFlags]'NonPublic,Instance')
        $kind = $advise.GetParameters()[0].ParameterType
        $device = [Enum]::Parse($kind, 'SignInAgainDeviceCode')
        $browser = [Enum]::Parse($kind, 'SignInAgainInteractive')
        $advise.Invoke([AzBillingPS.Commands.GetAzBillingTokenCommand]::new(), @($device, $null)) | Should -Be 'Run Get-AzBillingToken -DeviceCode again for a new code.'
        $advise.Invoke([AzBillingPS.Commands.SyncAzBillingCommand]::new(), @($browser, $null)) | Should -Be 'Run Sync-AzBilling again with -Interactive to sign in again.'
        $advise.Invoke([AzBillingPS.Commands.SyncAzBillingCommand]::new(), @($device, $null)) | Should -Be 'Run Sync-AzBilling again with -DeviceCode to sign in with a new code.'
        # A command that was given a token: a new token.
        $advise.Invoke([AzBillingPS.Commands.NewAzCostReportCommand]::new(), @($device, $null)) | Should -Be 'Sign in again with Get-AzBillingToken -DeviceCode (a new code) and use the new token.'
    }

    It 'adds the command''s advice to an engine warning that carries one' {
        $null = Test-Pump -WarnAdvice -WarningVariable w -WarningAction SilentlyContinue
        @($w).Count | Should -Be 1
        $w[0].Message | Should -Be 'The cache is not safe. Clear-AzBillingTokenCache removes it.'
    }

    It 'words the engine''s other advice in each command''s terms, naming a parameter only where the command has it' {
        $advise = [AzBillingPS.Internal.AsyncCmdlet].GetMethod('Advise', [Reflection.BindingFlags]'NonPublic,Instance')
        $kind = $advise.GetParameters()[0].ParameterType
        function Advice([object] $command, [string] $name) { $advise.Invoke($command, @([Enum]::Parse($kind, $name), $null)) }
        $new = [AzBillingPS.Commands.NewAzCostReportCommand]::new()
        $sync = [AzBillingPS.Commands.SyncAzBillingCommand]::new()
        $save = [AzBillingPS.Commands.SaveAzCostBlobCommand]::new()
        $import = [AzBillingPS.Commands.ImportAzCostToSqlCommand]::new()
        $export = [AzBillingPS.Commands.ImportAzCostExportCommand]::new()
        # A report that ran out of time: New-AzCostReport has -Timeout, Sync-AzBilling has none to offer.
        Advice $new 'RaiseTimeout' | Should -Be 'Or raise -Timeout to wait longer.'
        Advice $sync 'RaiseTimeout' | Should -BeNullOrEmpty
        # A gzip bomb: -MaxGzipRatio where the command has it (Save-AzCostBlob, Sync-AzBilling), nothing where not.
        Advice $save 'RaiseGzipRatio' | Should -Be 'If it is genuine, run again with a larger -MaxGzipRatio.'
        Advice $sync 'RaiseGzipRatio' | Should -Be 'If it is genuine, run again with a larger -MaxGzipRatio.'
        Advice $export 'RaiseGzipRatio' | Should -BeNullOrEmpty
        # Lock waits: every command that reads or writes the table has -LockTimeout.
        foreach ($c in $import, $export, $sync, [AzBillingPS.Commands.GetAzCostSummaryCommand]::new(), [AzBillingPS.Commands.GetAzBillingSyncStateCommand]::new()) {
            Advice $c 'RaiseLockTimeout' | Should -Be 'Or raise -LockTimeout to wait longer.'
        }
        Advice $new 'RaiseLockTimeout' | Should -BeNullOrEmpty
        Advice $import 'SignInWithDatabaseToken' | Should -Be 'Or sign in with Get-AzBillingToken (a certificate too: -CertificatePath) and give the token as -DatabaseToken.'
        Advice ([AzBillingPS.Commands.GetAzBillingTokenCommand]::new()) 'RemoveTokenCache' | Should -Be 'Clear-AzBillingTokenCache removes it.'
        # A row outside the period: Import-AzCostToSql takes -From/-To; Sync-AzBilling's name months, Import-AzCostExport has none.
        Advice $import 'CoverFilePeriod' | Should -Be 'Give -From/-To that cover the file, or leave them out to use the file''s own dates.'
        Advice $sync 'CoverFilePeriod' | Should -BeNullOrEmpty
        Advice $export 'CoverFilePeriod' | Should -BeNullOrEmpty
        # A management group: Sync-AzBilling can list the subscriptions itself, New-AzCostReport cannot.
        Advice $sync 'RequestEachSubscription' | Should -Be '-AllSubscriptions requests every subscription the identity can read.'
        Advice $new 'RequestEachSubscription' | Should -BeNullOrEmpty
        # A certificate password: where the command signs in with a certificate file.
        Advice ([AzBillingPS.Commands.GetAzBillingTokenCommand]::new()) 'GiveCertificatePassword' | Should -Be 'Give it with -CertificatePassword.'
        Advice $import 'GiveCertificatePassword' | Should -BeNullOrEmpty
    }
}
