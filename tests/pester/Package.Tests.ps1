# The .nupkg that build.ps1 -Task Package writes installs from a local folder repository and works.
BeforeAll {
    $script:Repo = Join-Path $env:AZBILLING_REPO_ROOT 'out/packages'
    $script:Name = "AzBillingPS-test-$PID"
}

Describe 'AzBillingPS package' -Tag 'Package' {
    It 'installs from a folder repository with PSResourceGet and imports' {
        Test-Path (Join-Path $Repo 'AzBillingPS.*.nupkg') | Should -BeTrue -Because 'build.ps1 -Task Test packages the module first'
        Register-PSResourceRepository -Name $Name -Uri $Repo -Trusted
        try {
            $found = Find-PSResource -Name AzBillingPS -Repository $Name
            $found.Name | Should -Be 'AzBillingPS'
            $found.ProjectUri | Should -Not -BeNullOrEmpty
            $byCommand = @(Find-PSResource -CommandName Get-AzCostSummary, Sync-AzBilling -Repository $Name)
            $byCommand.Count | Should -BeGreaterThan 0 -Because 'Find-PSResource -CommandName finds the module by its cmdlets'
            @($byCommand | ForEach-Object { $_.ParentResource.Name } | Sort-Object -Unique) | Should -Be 'AzBillingPS'
            Save-PSResource -Name AzBillingPS -Repository $Name -Path $TestDrive -TrustRepository -SkipDependencyCheck
        }
        finally { Unregister-PSResourceRepository -Name $Name }
        $manifest = Get-ChildItem -Recurse -Path (Join-Path $TestDrive 'AzBillingPS') -Filter 'AzBillingPS.psd1' | Select-Object -First 1
        $manifest | Should -Not -BeNullOrEmpty
        Test-Path (Join-Path $manifest.DirectoryName 'Dependencies/AzBillingPS.Engine.dll') | Should -BeTrue
        # The FinOps toolkit open data the engine embeds for the FOCUS view ships with its MIT notice.
        $notice = Join-Path $manifest.DirectoryName 'ThirdPartyNotices.txt'
        Test-Path $notice | Should -BeTrue
        $text = Get-Content -Raw $notice
        foreach ($file in 'PricingUnits.csv', 'Regions.csv', 'Services.csv', 'ResourceTypes.csv') { $text | Should -Match ([regex]::Escape($file)) }
        $text | Should -Match 'microsoft/finops-toolkit'
        $text | Should -Match 'MIT License'
        $text | Should -Match 'Copyright \(c\) Microsoft Corporation'
        $out = & ([Environment]::ProcessPath) @(if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' }) -NoProfile -NonInteractive -Command "Import-Module '$($manifest.FullName)'; (Get-Command -Module AzBillingPS).Name -join ','"
        $LASTEXITCODE | Should -Be 0
        $out | Should -Match 'Import-AzCostToSql'
    }
}
