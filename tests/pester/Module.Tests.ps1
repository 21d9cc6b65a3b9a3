#Requires -Version 7.4
<#
    Module-level checks: manifest, exports, help, output types and their views.
    Data-driven over Get-Command -Module AzBillingPS: a cmdlet added without help (module/help/<Verb-Noun>.psd1,
    built into en-US/AzBillingPS.dll-Help.xml by build/New-ModuleHelp.ps1) fails here. That is intended.
#>

BeforeDiscovery {
    Import-Module $env:AZBILLING_MODULE_PATH -Force
    $script:cmdletCases = @(Get-Command -Module AzBillingPS -CommandType Cmdlet | Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })
    $script:typeCases = @(
        'AzBillingPS.AzCostFile'
        'AzBillingPS.AzCostImportResult'
        'AzBillingPS.AzCostSummary'
        'AzBillingPS.AzBillingToken'
        'AzBillingPS.AzBillingSyncResult'
        'AzBillingPS.AzBillingSyncSummary'
        'AzBillingPS.AzBillingSyncState'
    ) | ForEach-Object { @{ TypeName = $_ } }
}

BeforeAll {
    $script:module = Import-Module $env:AZBILLING_MODULE_PATH -Force -PassThru
    $script:manifestPath = $env:AZBILLING_MODULE_PATH
    $script:manifestData = Import-PowerShellDataFile -LiteralPath $manifestPath
    # WhatIf and Confirm are not excluded: where a cmdlet has them, help describes them too.
    $script:common = [System.Management.Automation.Cmdlet]::CommonParameters

    # The parameter sets an example's code can run in: every call of the cmdlet in the code, parsed, is matched
    # against each set (all parameters it names belong to the set, all mandatory ones are given or can come from
    # the pipeline when the call is not the first pipeline element).
    function Get-CoveredParameterSet([System.Management.Automation.CommandInfo] $Command, [string] $Code) {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$null)
        $calls = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq $Command.Name }, $true)
        foreach ($call in $calls) {
            $piped = $call.Parent -is [System.Management.Automation.Language.PipelineAst] -and $call.Parent.PipelineElements.IndexOf($call) -gt 0
            foreach ($set in $Command.ParameterSets) {
                $named = [System.Collections.Generic.List[string]]::new()
                $positional = 0
                $ok = $true
                $elements = @($call.CommandElements | Select-Object -Skip 1)
                for ($i = 0; $i -lt $elements.Count; $i++) {
                    $el = $elements[$i]
                    if ($el -isnot [System.Management.Automation.Language.CommandParameterAst]) { $positional++; continue }
                    $g = $el.ParameterName
                    $match = @($set.Parameters | Where-Object { $_.Name -eq $g -or $g -in $_.Aliases })
                    if (-not $match) { $match = @($set.Parameters | Where-Object { $_.Name -like "$g*" }) }
                    if ($match.Count -ne 1) { $ok = $false; break }
                    $named.Add($match[0].Name)
                    if (-not $el.Argument -and $match[0].ParameterType -ne [switch]) { $i++ }   # the value follows
                }
                if (-not $ok) { continue }
                $unbound = @($set.Parameters | Where-Object { $_.IsMandatory -and $_.Name -notin $named })
                $byPosition = @($unbound | Where-Object { $_.Position -ge 0 } | Sort-Object Position | Select-Object -First $positional).Name
                $missing = @($unbound | Where-Object {
                        $_.Name -notin $byPosition -and -not ($piped -and ($_.ValueFromPipeline -or $_.ValueFromPipelineByPropertyName))
                    })
                if (-not $missing) { $set.Name }
            }
        }
    }
}

Describe 'AzBillingPS module' -Tag 'Module' {
    Context 'Manifest' {
        It 'is a valid module manifest' {
            { Test-ModuleManifest -Path $manifestPath -ErrorAction Stop } | Should -Not -Throw
        }

        It 'has project and license links, release notes for the whole module, and tags PSResourceGet finds commands by' {
            $psData = $manifestData.PrivateData.PSData
            $psData.ProjectUri | Should -Match '^https://'
            $psData.LicenseUri | Should -Match '^https://'
            foreach ($c in $manifestData.CmdletsToExport) {
                $psData.Tags | Should -Contain "PSCommand_$c" -Because 'Find-PSResource -CommandName searches PSCommand_<name>'
                $psData.Tags | Should -Contain "PSCmdlet_$c"
                $psData.ReleaseNotes | Should -Match ([regex]::Escape($c)) -Because 'the release notes cover every cmdlet'
            }
            $psData.Tags | Should -Contain 'PSIncludes_Cmdlet'
            $psData.Tags | Should -Contain 'PSEdition_Core'
            $psData.Tags | Where-Object { $_ -match '\s' } | Should -BeNullOrEmpty
        }

        It 'requires PowerShell 7.4 on Core' {
            $manifestData.PowerShellVersion | Should -Be '7.4'
            @($manifestData.CompatiblePSEditions) | Should -Be @('Core')
        }

        It 'lists its cmdlets explicitly and exactly' {
            $listed = @($manifestData.CmdletsToExport)
            $listed | Should -Not -BeNullOrEmpty
            $listed | Should -Not -Contain '*'
            $listed | Where-Object { $_ -match '[*?\[]' } | Should -BeNullOrEmpty
            $exported = @(Get-Command -Module AzBillingPS -CommandType Cmdlet).Name
            ($listed | Sort-Object) | Should -Be ($exported | Sort-Object)
            ($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be ($listed | Sort-Object)
        }

        It 'exports no functions, aliases or variables' {
            @($manifestData.FunctionsToExport) | Should -BeNullOrEmpty
            @($manifestData.AliasesToExport) | Should -BeNullOrEmpty
            @($manifestData.VariablesToExport) | Should -BeNullOrEmpty
            $module.ExportedFunctions.Count | Should -Be 0
            $module.ExportedAliases.Count | Should -Be 0
            $module.ExportedVariables.Count | Should -Be 0
        }

        It 'has an about_AzBillingPS topic that Get-Help finds' {
            $about = Get-Help about_AzBillingPS -ErrorAction Stop | Out-String
            $about | Should -Match 'about_AzBillingPS'
            $about | Should -Match 'SHORT DESCRIPTION'
        }
    }

    Context '<Name>' -ForEach $cmdletCases {
        BeforeAll {
            $command = Get-Command -Module AzBillingPS -Name $Name -CommandType Cmdlet
            $help = Get-Help -Name $Name -Full -ErrorAction Stop
            $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $common })
            $helpParameters = @{}
            foreach ($p in @($help.parameters.parameter)) { if ($p) { $helpParameters[[string]$p.name] = $p } }
        }

        It 'declares [OutputType]' {
            $command.OutputType | Should -Not -BeNullOrEmpty
        }

        It 'has help from the MAML file (not the generated stub)' {
            $help.GetType().Name | Should -Not -Be 'String'
            # Get-Help fabricates a syntax-only entry when there is no help; such entries have no description.
            $help.description | Should -Not -BeNullOrEmpty
        }

        It 'has a synopsis' {
            $synopsis = ([string]$help.Synopsis).Trim()
            $synopsis | Should -Not -BeNullOrEmpty
            # Without MAML, Get-Help's synopsis is the syntax line.
            $synopsis | Should -Not -BeLike "$Name *-*"
        }

        It 'has a description' {
            (($help.description | ForEach-Object Text) -join "`n").Trim().Length | Should -BeGreaterThan 40
        }

        It 'describes every parameter' {
            $undocumented = foreach ($p in $parameters) {
                $h = $helpParameters[$p.Name]
                $text = if ($h) { (@($h.description) | ForEach-Object Text) -join ' ' } else { '' }
                if (-not $text.Trim()) { $p.Name }
            }
            $undocumented | Should -BeNullOrEmpty -Because "every parameter of $Name needs a description in module/help/$Name.psd1"
        }

        It 'describes no parameter the cmdlet does not have' {
            $stale = $helpParameters.Keys | Where-Object { $_ -notin $parameters.Name }
            $stale | Should -BeNullOrEmpty
        }

        It 'shows the real parameter metadata in help' {
            foreach ($p in $parameters) {
                $h = $helpParameters[$p.Name]
                $mandatory = [bool]($p.ParameterSets.Values | Where-Object IsMandatory)
                $h.required | Should -Be $mandatory.ToString().ToLowerInvariant() -Because "-$($p.Name) mandatory"
                if ($p.Aliases.Count) { $h.aliases | Should -Be ($p.Aliases -join ', ') -Because "-$($p.Name) aliases" }
                $byValue = [bool]($p.ParameterSets.Values | Where-Object ValueFromPipeline)
                ([string]$h.pipelineInput -like '*ByValue*') | Should -Be $byValue -Because "-$($p.Name) pipeline input"
                $positions = @($p.ParameterSets.Values | Where-Object { $_.Position -ge 0 } | ForEach-Object Position)
                $want = if ($positions.Count) { [string]$positions[0] } else { 'named' }
                [string]$h.position | Should -Be $want -Because "-$($p.Name) position"
            }
        }

        It 'has one syntax item per parameter set' {
            @($help.syntax.syntaxItem).Count | Should -Be @($command.ParameterSets).Count
        }

        It 'has at least one example per parameter set' {
            $examples = @($help.examples.example)
            $examples.Count | Should -BeGreaterOrEqual @($command.ParameterSets).Count
            $covered = @(foreach ($e in $examples) { Get-CoveredParameterSet $command ([string]$e.code) }) | Sort-Object -Unique
            $uncovered = @($command.ParameterSets.Name | Where-Object { $_ -notin $covered })
            $uncovered | Should -BeNullOrEmpty -Because "each parameter set of $Name needs an example that runs in it"
        }

        It 'has examples with code and a remark' {
            foreach ($e in @($help.examples.example)) {
                ([string]$e.code).Trim() | Should -Not -BeNullOrEmpty
                ((@($e.remarks) | ForEach-Object Text) -join ' ').Trim() | Should -Not -BeNullOrEmpty -Because "example '$($e.title)'"
            }
        }

        It 'documents its output types' {
            $documented = @($help.returnValues.returnValue | ForEach-Object { ([string]$_.type.name).Trim() })
            foreach ($t in $command.OutputType) {
                $documented | Should -Contain $t.Type.FullName
            }
        }
    }

    Context 'Output type <TypeName>' -ForEach $typeCases {
        It 'has a table view' {
            $views = @((Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition)
            $views.Control | Where-Object { $_ -is [System.Management.Automation.TableControl] } | Should -Not -BeNullOrEmpty
        }
    }
}
