#!/usr/bin/env pwsh
# Builds the Qcow2Mount MSI on Linux with wixl (msitools), from Product.wxs and Environment.idt beside this script:
#   pwsh installer/msi/build-msi.ps1 -PayloadDir DIR -Version 1.2.3 -OutputFile OUT.msi [-SourceDir DIR]
# PayloadDir holds every file to install into "C:\Program Files\Qcow2Mount" (qcow2mount.exe and qcow2mount.ico among
# them); `build.ps1 msi` makes it from the win-x64 publish. SourceDir (default: this folder) holds the WiX sources.
# Exit codes: 0 built, 1 failed (one line on stderr saying why; no OUT.msi is left behind).
param(
    [Parameter(Mandatory)] [string] $PayloadDir,
    [Parameter(Mandatory)] [string] $Version,
    [Parameter(Mandatory)] [string] $OutputFile,
    [string] $SourceDir = $PSScriptRoot
)

$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false
Set-StrictMode -Version 3.0

function Stop-Msi([string] $Message) {
    [Console]::Error.WriteLine("build-msi: $Message")
    exit 1
}

# Runs a tool and returns its output lines (stdout and stderr). wixl exits 0 after some mistakes and only says so in a
# GLib CRITICAL or WARNING line (a dropped verb, an unknown attribute): those fail the build like an error does.
function Invoke-Tool([string] $File, [string[]] $Arguments, [string] $InputText = $null) {
    $output = if ($null -ne $InputText) { $InputText | & $File @Arguments 2>&1 } else { & $File @Arguments 2>&1 }
    $lines = @($output | ForEach-Object { "$_" } | Where-Object { $_.Trim() -ne '' })
    $complaints = @($lines | Where-Object { $_ -match '\b(CRITICAL|WARNING)\b' })
    if ($LASTEXITCODE -ne 0 -or $complaints.Count -gt 0) {
        $shown = if ($complaints.Count -gt 0) { $complaints } else { $lines | Select-Object -Last 3 }
        Stop-Msi "$File failed (exit code $LASTEXITCODE): $(($shown | ForEach-Object { $_.Trim() }) -join ' | ')"
    }
    $lines
}

foreach ($tool in 'wixl', 'wixl-heat', 'msibuild') {
    if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) {
        Stop-Msi "$tool is missing: apt-get install wixl msitools (or run 'dotnet pwsh build.ps1 deps' as root)"
    }
}

# An MSI ProductVersion is major.minor.build, numbers only, at most 255.255.65535.
if ($Version -notmatch '^(\d+)\.(\d+)\.(\d+)$' -or [int]$Matches[1] -gt 255 -or [int]$Matches[2] -gt 255 -or [int]$Matches[3] -gt 65535) {
    Stop-Msi "version '$Version' is not an MSI product version (major.minor.build, at most 255.255.65535)"
}
$PayloadDir = [System.IO.Path]::GetFullPath($PayloadDir)
$OutputFile = [System.IO.Path]::GetFullPath($OutputFile)
foreach ($required in 'qcow2mount.exe', 'qcow2mount.ico') {
    if (-not (Test-Path -PathType Leaf (Join-Path $PayloadDir $required))) { Stop-Msi "$PayloadDir has no $required" }
}
foreach ($source in 'Product.wxs', 'Environment.idt') {
    if (-not (Test-Path -PathType Leaf (Join-Path $SourceDir $source))) { Stop-Msi "$SourceDir has no $source" }
}

# wixl wants relative File/@Source paths: work in a scratch folder where "payload" links to the payload.
$work = [System.IO.Directory]::CreateTempSubdirectory('qcow2mount-msi-').FullName
try {
    Push-Location $work
    New-Item -ItemType SymbolicLink -Path 'payload' -Target $PayloadDir | Out-Null

    # files.wxs: one component per payload file (wixl-heat's ids and GUIDs follow from the path, so they are stable).
    $files = @(Get-ChildItem -LiteralPath $PayloadDir -Recurse -File |
            ForEach-Object { 'payload/' + [System.IO.Path]::GetRelativePath($PayloadDir, $_.FullName).Replace('\', '/') } |
            Sort-Object -Culture ([cultureinfo]::InvariantCulture) -CaseSensitive)
    $heat = Invoke-Tool 'wixl-heat' @('--prefix', 'payload/', '--directory-ref', 'INSTALLDIR', '--component-group', 'CG.Payload',
        '--var', 'var.PayloadDir', '--win64') ($files -join "`n")
    [System.IO.File]::WriteAllLines((Join-Path $work 'files.wxs'), [string[]] $heat)

    $msi = Join-Path $work 'qcow2mount.msi'
    Invoke-Tool 'wixl' @('--arch', 'x64', '--define', "Version=$Version", '--define', 'PayloadDir=payload', '--define', 'Win64=yes',
        '--output', $msi, (Join-Path $SourceDir 'Product.wxs'), 'files.wxs') | Out-Null
    Invoke-Tool 'msibuild' @($msi, '-i', (Join-Path $SourceDir 'Environment.idt')) | Out-Null

    New-Item -ItemType Directory -Force ([System.IO.Path]::GetDirectoryName($OutputFile)) | Out-Null
    Move-Item -Force $msi $OutputFile
}
finally {
    Pop-Location
    Remove-Item -Recurse -Force $work
}
