#Requires -Version 7.4
<#
.SYNOPSIS
    Builds the module's MAML help (AzBillingPS.dll-Help.xml) and about topic from module/help/.
.DESCRIPTION
    The help is written by hand in module/help/<Verb-Noun>.psd1, one PowerShell data file per cmdlet:

        @{
            Synopsis     = '...'
            Description  = '...'                      # blank lines separate paragraphs
            Parameters   = @{ Name = '...'; ... }     # every parameter except the common parameters
            Examples     = @( @{ Title = '...'; Code = '...'; Remarks = '...' } ... )   # >= 1 per parameter set
            Inputs       = @( @{ Type = '...'; Description = '...' } )
            Outputs      = @( @{ Type = '...'; Description = '...' } )
            Notes        = '...'
            RelatedLinks = @( @{ Text = '...'; Uri = '...' } )
        }

    The parameter metadata (parameter sets, types, mandatory, position, pipeline input, aliases, wildcards, enum
    values, defaults) is not written by hand: it is read from the built module's cmdlets (Get-Command -Module), so
    the MAML always matches the code. -WhatIf and -Confirm get a standard text unless the source gives one.

    The script fails, naming what is missing, when an exported cmdlet has no source file, a parameter has no
    description, a description names a parameter the cmdlet does not have, a required key is empty, or a cmdlet has
    fewer examples than parameter sets.

    module/help/_DatabaseTarget.psd1 holds the texts of the target parameters the database cmdlets share
    (-SqlInstance, -Database, -ConnectionString, -Provider, -DatabasePath, -Credential, -Table, -Schema); a cmdlet's
    own file describes one of them only where it says something more.

    module/help/about_AzBillingPS.help.txt is copied next to the MAML.
.PARAMETER ModulePath
    The built module's manifest (out/AzBillingPS/<version>/AzBillingPS.psd1).
.PARAMETER SourcePath
    The folder of the help sources. Default: module/help.
.PARAMETER OutputPath
    One or more folders to write AzBillingPS.dll-Help.xml and about_AzBillingPS.help.txt to (build.ps1 gives the built
    module's en-US folder under out/; generated help is never kept in the repository).
.EXAMPLE
    ./build/New-ModuleHelp.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -OutputPath ./out/AzBillingPS/0.1.0/en-US
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ModulePath,

    [string] $SourcePath = (Join-Path $PSScriptRoot '../module/help'),

    [Parameter(Mandatory)]
    [string[]] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
    msh     = 'http://msh'
}

$defaultText = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}

$common = [System.Management.Automation.Cmdlet]::CommonParameters

function Get-Text([hashtable] $Source, [string] $Key, [string] $Cmdlet, [switch] $Optional) {
    $value = if ($Source.ContainsKey($Key)) { $Source[$Key] } else { $null }
    if (-not $Optional -and [string]::IsNullOrWhiteSpace([string]$value)) {
        throw "Help for ${Cmdlet}: '$Key' is missing or empty in $SourcePath/$Cmdlet.psd1."
    }
    return [string]$value
}

function Get-TypeName([type] $Type) {
    $t = $Type
    $suffix = ''
    if ($t.IsArray) { $suffix = '[]'; $t = $t.GetElementType() }
    $inner = [Nullable]::GetUnderlyingType($t)
    if ($inner) { $t = $inner }
    # Own types by full name (so Get-Help -Full links to the right type); BCL types by their short name.
    $name = if ($t.Namespace -and $t.Namespace.StartsWith('AzBillingPS')) { $t.FullName } else { $t.Name }
    return $name + $suffix
}

function Get-EnumValues([System.Management.Automation.ParameterMetadata] $Parameter) {
    $t = $Parameter.ParameterType
    if ($t.IsArray) { $t = $t.GetElementType() }
    $inner = [Nullable]::GetUnderlyingType($t)
    if ($inner) { $t = $inner }
    if ($t.IsEnum) { return [Enum]::GetNames($t) }
    $set = $Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    if ($set) { return $set.ValidValues }
    return @()
}

function Get-PipelineText([System.Management.Automation.ParameterSetMetadata[]] $Sets) {
    $kinds = @()
    if ($Sets | Where-Object ValueFromPipeline) { $kinds += 'ByValue' }
    if ($Sets | Where-Object ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    if ($kinds) { return "True ($($kinds -join ', '))" }
    return 'False'
}

function Get-DefaultText([object] $Instance, [string] $Name) {
    if (-not $Instance) { return 'None' }
    $property = $Instance.GetType().GetProperty($Name)
    if (-not $property) { return 'None' }
    $value = $property.GetValue($Instance)
    if ($null -eq $value) { return 'None' }
    if ($value -is [System.Management.Automation.SwitchParameter]) { return [string]$value.IsPresent }
    if ($value -is [array]) { if ($value.Count -eq 0) { return 'None' }; return ($value -join ', ') }
    if ($value -is [string] -and $value.Length -eq 0) { return 'None' }
    return [System.Convert]::ToString($value, [cultureinfo]::InvariantCulture)
}

function Add-Paragraphs([System.Xml.XmlWriter] $Writer, [string] $Text) {
    # Blank lines separate paragraphs; a paragraph's own line breaks are kept (lists, wrapped text).
    $paragraphs = @(($Text.Trim() -replace "`r`n", "`n") -split "`n\s*`n" | Where-Object { $_.Trim() })
    if (-not $paragraphs) { $Writer.WriteElementString('maml', 'para', $ns.maml, ''); return }
    foreach ($p in $paragraphs) { $Writer.WriteElementString('maml', 'para', $ns.maml, $p.Trim()) }
}

function Write-Description([System.Xml.XmlWriter] $Writer, [string] $Text) {
    $Writer.WriteStartElement('maml', 'description', $ns.maml)
    Add-Paragraphs $Writer $Text
    $Writer.WriteEndElement()
}

function Write-Parameter {
    param(
        [System.Xml.XmlWriter] $Writer,
        [System.Management.Automation.ParameterMetadata] $Parameter,
        [System.Management.Automation.ParameterSetMetadata[]] $Sets,
        [string] $Description,
        [string] $Default,
        [switch] $InSyntax
    )
    $isSwitch = $Parameter.SwitchParameter
    $required = [bool]($Sets | Where-Object IsMandatory)
    $positions = @($Sets | Where-Object { $_.Position -ge 0 } | ForEach-Object Position)
    # @(0) is $false in a condition: test the count, not the array.
    $position = if ($positions.Count -gt 0) { [string]$positions[0] } else { 'named' }
    $globbing = [bool]($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
    $aliases = if ($Parameter.Aliases.Count) { $Parameter.Aliases -join ', ' } else { 'none' }
    $typeName = Get-TypeName $Parameter.ParameterType

    $Writer.WriteStartElement('command', 'parameter', $ns.command)
    $Writer.WriteAttributeString('required', $required.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', $Parameter.ParameterType.IsArray.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('globbing', $globbing.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', (Get-PipelineText $Sets))
    $Writer.WriteAttributeString('position', $position)
    $Writer.WriteAttributeString('aliases', $aliases)
    $Writer.WriteElementString('maml', 'name', $ns.maml, $Parameter.Name)
    Write-Description $Writer $Description
    $values = @(Get-EnumValues $Parameter)
    if ($InSyntax -and $values) {
        $Writer.WriteStartElement('command', 'parameterValueGroup', $ns.command)
        foreach ($v in $values) {
            $Writer.WriteStartElement('command', 'parameterValue', $ns.command)
            $Writer.WriteAttributeString('required', 'false')
            $Writer.WriteAttributeString('command', 'variableLength', $ns.command, 'false')
            $Writer.WriteString($v)
            $Writer.WriteEndElement()
        }
        $Writer.WriteEndElement()
    }
    if (-not $isSwitch -or -not $InSyntax) {
        $Writer.WriteStartElement('command', 'parameterValue', $ns.command)
        $Writer.WriteAttributeString('required', (-not $isSwitch).ToString().ToLowerInvariant())
        $Writer.WriteAttributeString('variableLength', $Parameter.ParameterType.IsArray.ToString().ToLowerInvariant())
        $Writer.WriteString($typeName)
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $ns.dev)
    $Writer.WriteElementString('maml', 'name', $ns.maml, $typeName)
    $Writer.WriteElementString('maml', 'uri', $ns.maml, '')
    $Writer.WriteEndElement()
    $Writer.WriteElementString('dev', 'defaultValue', $ns.dev, $Default)
    $Writer.WriteEndElement()
}

function Write-TypeList([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, [object[]] $Items) {
    $Writer.WriteStartElement('command', $ListName, $ns.command)
    foreach ($item in $Items) {
        $Writer.WriteStartElement('command', $ItemName, $ns.command)
        $Writer.WriteStartElement('dev', 'type', $ns.dev)
        $Writer.WriteElementString('maml', 'name', $ns.maml, [string]$item.Type)
        $Writer.WriteElementString('maml', 'uri', $ns.maml, '')
        $Writer.WriteEndElement()
        Write-Description $Writer ([string]$item.Description)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

# --- read the cmdlets from the built module ------------------------------------------------------------------------

if (-not (Test-Path -LiteralPath $ModulePath)) { throw "The built module manifest '$ModulePath' does not exist; build first." }
$module = Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).Path -Force -PassThru -ErrorAction Stop
try {
    $commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
    if (-not $commands) { throw "Module '$ModulePath' exports no cmdlets." }
    $SourcePath = (Resolve-Path -LiteralPath $SourcePath).Path

    $missing = @($commands | Where-Object { -not (Test-Path -LiteralPath (Join-Path $SourcePath "$($_.Name).psd1")) })
    if ($missing) {
        throw "No help source for exported cmdlet(s): $(($missing.Name) -join ', '). Add $SourcePath/<Verb-Noun>.psd1 for each (see build/New-ModuleHelp.ps1)."
    }

    # Texts for the target parameters the database cmdlets share; a cmdlet's own file may still describe one itself.
    $sharedPath = Join-Path $SourcePath '_DatabaseTarget.psd1'
    $sharedText = if (Test-Path -LiteralPath $sharedPath) { (Import-PowerShellDataFile -LiteralPath $sharedPath).Parameters } else { @{} }

    $settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; Encoding = [System.Text.UTF8Encoding]::new($false); NewLineChars = "`n" }
    $buffer = [System.IO.MemoryStream]::new()
    $w = [System.Xml.XmlWriter]::Create($buffer, $settings)
    $w.WriteStartDocument()
    $w.WriteStartElement('helpItems', $ns.msh)
    $w.WriteAttributeString('schema', 'maml')

    foreach ($cmd in $commands) {
        $name = $cmd.Name
        $src = Import-PowerShellDataFile -LiteralPath (Join-Path $SourcePath "$name.psd1")
        $synopsis = Get-Text $src 'Synopsis' $name
        $description = Get-Text $src 'Description' $name
        $paramText = if ($src.ContainsKey('Parameters') -and $src.Parameters) { $src.Parameters } else { @{} }
        foreach ($k in $sharedText.Keys) {
            if ($cmd.Parameters.ContainsKey($k) -and -not $paramText.ContainsKey($k)) { $paramText[$k] = $sharedText[$k] }
        }
        $examples = @(if ($src.ContainsKey('Examples')) { $src.Examples })

        $params = @($cmd.Parameters.Values | Where-Object { $_.Name -notin $common })
        $undocumented = @($params | Where-Object {
                -not ($paramText.ContainsKey($_.Name) -and -not [string]::IsNullOrWhiteSpace([string]$paramText[$_.Name])) -and
                -not $defaultText.ContainsKey($_.Name)
            } | ForEach-Object Name)
        if ($undocumented) {
            throw "Help for ${name}: no description for parameter(s) $($undocumented -join ', ') in $SourcePath/$name.psd1 (Parameters = @{ Name = 'text' })."
        }
        $unknown = @($paramText.Keys | Where-Object { $_ -notin $params.Name })
        if ($unknown) {
            throw "Help for ${name}: $SourcePath/$name.psd1 describes parameter(s) the cmdlet does not have: $($unknown -join ', ')."
        }
        $sets = @($cmd.ParameterSets)
        if ($examples.Count -lt $sets.Count) {
            throw "Help for ${name}: $($examples.Count) example(s) for $($sets.Count) parameter set(s) ($(($sets.Name) -join ', ')); give at least one example per parameter set."
        }
        foreach ($e in $examples) {
            foreach ($k in 'Title', 'Code') {
                if (-not ($e -is [hashtable]) -or [string]::IsNullOrWhiteSpace([string]$e[$k])) { throw "Help for ${name}: an example has no $k." }
            }
        }
        $describe = { param($p) if ($paramText.ContainsKey($p)) { [string]$paramText[$p] } else { $defaultText[$p] } }

        $instance = try { [Activator]::CreateInstance($cmd.ImplementingType) } catch { $null }

        $w.WriteStartElement('command', 'command', $ns.command)
        $w.WriteAttributeString('xmlns', 'maml', $null, $ns.maml)
        $w.WriteAttributeString('xmlns', 'command', $null, $ns.command)
        $w.WriteAttributeString('xmlns', 'dev', $null, $ns.dev)

        $w.WriteStartElement('command', 'details', $ns.command)
        $w.WriteElementString('command', 'name', $ns.command, $name)
        $w.WriteElementString('command', 'verb', $ns.command, $cmd.Verb)
        $w.WriteElementString('command', 'noun', $ns.command, $cmd.Noun)
        Write-Description $w $synopsis
        $w.WriteEndElement()

        Write-Description $w $description

        # Syntax: one item per parameter set, default set first, parameters in positional then declared order.
        $w.WriteStartElement('command', 'syntax', $ns.command)
        foreach ($set in ($sets | Sort-Object { -not $_.IsDefault })) {
            $w.WriteStartElement('command', 'syntaxItem', $ns.command)
            $w.WriteElementString('maml', 'name', $ns.maml, $name)
            $ordered = $set.Parameters | Where-Object { $_.Name -notin $common } |
                Sort-Object @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ Expression = { -not $_.IsMandatory } }
            foreach ($sp in $ordered) {
                $meta = $cmd.Parameters[$sp.Name]
                $inSet = $meta.ParameterSets[$set.Name]
                if (-not $inSet) { $inSet = $meta.ParameterSets['__AllParameterSets'] }
                Write-Parameter -Writer $w -Parameter $meta -Sets @($inSet) -Description (& $describe $sp.Name) -Default (Get-DefaultText $instance $sp.Name) -InSyntax
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'parameters', $ns.command)
        foreach ($p in ($params | Sort-Object Name)) {
            Write-Parameter -Writer $w -Parameter $p -Sets @($p.ParameterSets.Values) -Description (& $describe $p.Name) -Default (Get-DefaultText $instance $p.Name)
        }
        $w.WriteEndElement()

        $inputs = @(if ($src.ContainsKey('Inputs')) { $src.Inputs })
        $outputs = @(if ($src.ContainsKey('Outputs')) { $src.Outputs })
        if (-not $outputs) { throw "Help for ${name}: 'Outputs' is missing in $SourcePath/$name.psd1." }
        Write-TypeList $w 'inputTypes' 'inputType' $inputs
        Write-TypeList $w 'returnValues' 'returnValue' $outputs

        $notes = Get-Text $src 'Notes' $name -Optional
        if ($notes) {
            $w.WriteStartElement('maml', 'alertSet', $ns.maml)
            $w.WriteStartElement('maml', 'alert', $ns.maml)
            Add-Paragraphs $w $notes
            $w.WriteEndElement()
            $w.WriteEndElement()
        }

        $w.WriteStartElement('command', 'examples', $ns.command)
        $i = 0
        foreach ($e in $examples) {
            $i++
            $w.WriteStartElement('command', 'example', $ns.command)
            $w.WriteElementString('maml', 'title', $ns.maml, "-------------------------- Example ${i}: $($e.Title) --------------------------")
            $w.WriteElementString('dev', 'code', $ns.dev, ([string]$e.Code).Trim())
            $w.WriteStartElement('dev', 'remarks', $ns.dev)
            Add-Paragraphs $w ([string]$e['Remarks'])
            $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'relatedLinks', $ns.command)
        foreach ($link in @(if ($src.ContainsKey('RelatedLinks')) { $src.RelatedLinks })) {
            $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
            $w.WriteElementString('maml', 'linkText', $ns.maml, [string]$link.Text)
            $w.WriteElementString('maml', 'uri', $ns.maml, [string]$link['Uri'])
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteEndElement() # command:command
        Write-Verbose "Help for $name`: $($params.Count) parameters, $($sets.Count) parameter set(s), $($examples.Count) example(s)."
    }

    $w.WriteEndElement()
    $w.WriteEndDocument()
    $w.Flush()
    $bytes = $buffer.ToArray()
    $w.Dispose()

    # Parse what was written, so a broken file never ships.
    [xml] $check = [System.Text.Encoding]::UTF8.GetString($bytes).TrimStart([char]0xFEFF)
    if (@($check.helpItems.ChildNodes).Count -ne $commands.Count) { throw 'The generated MAML does not hold one command per cmdlet.' }

    $about = Join-Path $SourcePath 'about_AzBillingPS.help.txt'
    if (-not (Test-Path -LiteralPath $about) -or -not (Get-Content -Raw -LiteralPath $about).Trim()) {
        throw "The about topic source '$about' is missing or empty."
    }
    foreach ($dir in $OutputPath) {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        $target = Join-Path (Resolve-Path -LiteralPath $dir).Path 'AzBillingPS.dll-Help.xml'
        [System.IO.File]::WriteAllBytes($target, $bytes)
        Copy-Item -LiteralPath $about -Destination (Join-Path $dir 'about_AzBillingPS.help.txt') -Force
        Write-Verbose "Wrote $target"
    }
}
finally {
    Remove-Module -ModuleInfo $module -Force -ErrorAction SilentlyContinue
}
