#!/usr/bin/env pwsh
# Builds, tests, publishes and packages Qcow2Mount: `dotnet pwsh build.ps1 <target> [-Configuration C] [args]`.
# Run `dotnet pwsh build.ps1 help` for the targets. Exit codes: 0 done, 1 failed, 2 usage error.
#
# There is deliberately no param() block: `mount` forwards its arguments (`-o ro`, `--help`, …) to
# qcow2mount verbatim, and PowerShell's parameter binder would otherwise claim them.

$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false   # native exit codes are checked by Invoke-Native
Set-StrictMode -Version 3.0

$Root = $PSScriptRoot
$Solution = Join-Path $Root 'Qcow2Mount.sln'
$CliProject = Join-Path $Root 'src/Qcow2Mount.Cli/Qcow2Mount.Cli.csproj'
$Artifacts = Join-Path $Root 'artifacts'
$PublishDir = Join-Path $Artifacts 'publish'
$TestResultsDir = Join-Path $Artifacts 'test-results'
$BenchScript = Join-Path $Root 'scripts/bench.sh'
$DebInstallerDir = Join-Path $Root 'installer/deb'
$MsiInstallerDir = Join-Path $Root 'installer/msi'
$IconDir = Join-Path $Root 'installer/icon'
# Intermediate files of the publishes, per runtime, apart from the solution's bin/ and obj/ (a publish never
# rewrites the restore state a `dotnet build` of the solution uses).
$PublishBuildDir = Join-Path $Artifacts 'build'
$WinPublishDir = Join-Path $Artifacts 'publish-win-x64'

# System packages the build, the tests and the benchmarks use (Debian/Ubuntu names). wixl and msitools build the MSI,
# wine runs it (and the Windows build) in the packaging tests; xdg-utils, desktop-file-utils and shared-mime-info are
# the desktop side of the .deb (double-click on a .qcow2) that its tests install and query.
$AptPackages = @('qemu-utils', 'qemu-system-common', 'fuse3', 'libfuse3-3', 'fio', 'e2fsprogs', 'util-linux', 'clang-14', 'zlib1g-dev', 'strace',
    'wixl', 'msitools', 'wine', 'wine64', 'xdg-utils', 'desktop-file-utils', 'shared-mime-info')
# The same needs as commands, for machines without dpkg.
$NeededCommands = @('qemu-img', 'qemu-io', 'fusermount3', 'fio', 'mkfs.ext4', 'losetup', 'clang-14', 'strace',
    'wixl', 'msibuild', 'wine', 'xdg-mime', 'desktop-file-validate')

$Targets = [ordered]@{
    deps    = 'install missing system packages (root on Debian/Ubuntu) and restore the dotnet tools'
    build   = 'build the solution (Release unless -Configuration Debug)'
    test    = 'deps + build + run every test; ends with "N passed, M failed"'
    summary = 'print the summary of the last test run again (or of the TRX files in DIR)'
    publish = 'NativeAOT-compile qcow2mount into artifacts/publish'
    mount   = 'deps, publish if needed, then run qcow2mount with ARGS; without ARGS run the demo'
    deb     = 'build artifacts/qcow2mount_<version>_<arch>.deb from the NativeAOT binary'
    msi     = 'build artifacts/qcow2mount-<version>-x64.msi with wixl (see installer/msi/README.md)'
    package = 'deb and msi'
    bench   = 'run scripts/bench.sh with ARGS'
    clean   = 'delete artifacts/ and every bin/ and obj/ folder'
    help    = 'show this list'
}

$script:Target = $null
$script:SummaryPrinted = $false

# ---------------------------------------------------------------------------------------------
# Plumbing

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

# An expected failure: one line on stderr, no stack trace. A failing `test` run still ends with
# the summary line so that CI always reads a count.
function Stop-Build([string] $Message, [int] $ExitCode = 1) {
    [Console]::Error.WriteLine("build.ps1: $Message")
    if ($script:Target -eq 'test' -and -not $script:SummaryPrinted) {
        $script:SummaryPrinted = $true
        Write-Host '0 passed, 1 failed'
    }
    exit $ExitCode
}

function Invoke-Native([string] $File, [string[]] $Arguments, [string] $What = "$File $($Arguments -join ' ')") {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) {
        Stop-Build "$What failed (exit code $LASTEXITCODE)"
    }
}

function Test-Command([string] $Name) {
    [bool] (Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue)
}

function Test-IsRoot {
    $IsLinux -and ((& id -u) -eq '0')
}

function Test-IsDebianLike {
    if (-not (Test-Path /etc/os-release)) { return $false }
    $osRelease = Get-Content /etc/os-release -Raw
    $osRelease -match '(?m)^ID(_LIKE)?=.*\b(debian|ubuntu)\b'
}

function Get-RuntimeIdentifier {
    $arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString().ToLowerInvariant()
    $os = if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' }
    "$os-$arch"
}

function Get-QcowExe {
    Join-Path $PublishDir ($IsWindows ? 'qcow2mount.exe' : 'qcow2mount')
}

# Parses `-Configuration X` / `-c X` (also `--configuration`) out of the target's arguments.
function Split-Options([string[]] $Arguments) {
    $configuration = 'Release'
    $rest = [System.Collections.Generic.List[string]]::new()
    for ($i = 0; $i -lt $Arguments.Count; $i++) {
        $a = $Arguments[$i]
        if ($a -match '^(-c|-Configuration|--configuration)(:(.+))?$') {
            if ($Matches[3]) { $configuration = $Matches[3]; continue }
            if ($i + 1 -ge $Arguments.Count) { Stop-Build "$a needs a value (Release or Debug)" 2 }
            $configuration = $Arguments[++$i]
            continue
        }
        $rest.Add($a)
    }
    [pscustomobject]@{ Configuration = $configuration; Rest = [string[]] $rest }
}

# ---------------------------------------------------------------------------------------------
# deps

function Get-MissingAptPackages {
    $AptPackages | Where-Object {
        $status = & dpkg-query -W -f='${db:Status-Status}' $_ 2>$null
        $LASTEXITCODE -ne 0 -or $status -ne 'installed'
    }
}

function Invoke-Deps {
    Write-Step 'deps'
    if ($IsWindows) {
        Write-Host 'deps: nothing to install automatically on Windows (the WinFsp shim and its installer are planned).'
    }
    elseif ($IsLinux -and (Test-Command 'dpkg-query')) {
        $missing = @(Get-MissingAptPackages)
        if ($missing.Count -eq 0) {
            Write-Host "deps: system packages present ($($AptPackages -join ' '))"
        }
        elseif ((Test-IsRoot) -and (Test-IsDebianLike)) {
            Write-Host "deps: installing $($missing -join ' ')"
            $env:DEBIAN_FRONTEND = 'noninteractive'
            Invoke-Native 'apt-get' @('update', '-q') 'apt-get update'
            Invoke-Native 'apt-get' (@('install', '-y', '-q', '--no-install-recommends') + $missing) 'apt-get install'
        }
        else {
            Write-Host "deps: missing $($missing -join ' '); run: sudo apt-get update && sudo apt-get install -y $($missing -join ' ')"
        }
    }
    else {
        $missing = @($NeededCommands | Where-Object { -not (Test-Command $_) })
        if ($missing.Count -gt 0) {
            Write-Host "deps: commands not found: $($missing -join ' '); install the packages that provide them (Debian names: $($AptPackages -join ' '))"
        }
    }
    Invoke-Native 'dotnet' @('tool', 'restore') 'dotnet tool restore'
}

# ---------------------------------------------------------------------------------------------
# build, test, summary

function Invoke-Build([string] $Configuration) {
    Write-Step "build ($Configuration)"
    Invoke-Native 'dotnet' @('build', $Solution, '-c', $Configuration, '--nologo', '-v', 'minimal') 'dotnet build'
}

# Reads every TRX file in $Directory. Counters come from ResultSummary/Counters; a file without
# them (a test host that died mid-write) counts its UnitTestResult outcomes instead.
function Get-TestSummary([string] $Directory) {
    $files = @(if (Test-Path $Directory) { Get-ChildItem $Directory -Filter '*.trx' -File -Recurse | Sort-Object FullName })
    $summary = [pscustomobject]@{
        Passed = 0; Failed = 0; Skipped = 0; Total = 0; Files = $files.Count
        Projects = [System.Collections.Generic.List[string]]::new()
        Failures = [System.Collections.Generic.List[string]]::new()
    }
    foreach ($file in $files) {
        $xml = [xml]::new()
        try { $xml.Load($file.FullName) }
        catch {
            $summary.Failed++
            $summary.Failures.Add("$($file.Name): unreadable TRX file ($($_.Exception.Message))")
            continue
        }
        $ns = [System.Xml.XmlNamespaceManager]::new($xml.NameTable)
        $ns.AddNamespace('t', 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010')

        $project = $file.BaseName
        $codeBase = $xml.SelectSingleNode('//t:TestDefinitions/t:UnitTest/t:TestMethod/@codeBase', $ns)
        $runText = ($xml.SelectNodes('//t:ResultSummary/t:RunInfos/t:RunInfo/t:Text', $ns) | ForEach-Object InnerText) -join "`n"
        if ($codeBase) { $project = [System.IO.Path]::GetFileNameWithoutExtension($codeBase.Value) }
        elseif ($runText -match '([^\s/\\]+)\.dll') { $project = $Matches[1] }

        $counters = $xml.SelectSingleNode('//t:ResultSummary/t:Counters', $ns)
        if ($counters) {
            $n = { param($name) [int] ($counters.GetAttribute($name) -as [int]) }
            $passed = & $n 'passed'
            $failed = (& $n 'failed') + (& $n 'error') + (& $n 'timeout') + (& $n 'aborted')
            $skipped = (& $n 'notExecuted') + (& $n 'inconclusive') + (& $n 'notRunnable')
        }
        else {
            $outcomes = @($xml.SelectNodes('//t:Results/t:UnitTestResult/@outcome', $ns) | ForEach-Object Value)
            $passed = @($outcomes | Where-Object { $_ -eq 'Passed' }).Count
            $failed = @($outcomes | Where-Object { $_ -in 'Failed', 'Error', 'Timeout', 'Aborted' }).Count
            $skipped = @($outcomes | Where-Object { $_ -in 'NotExecuted', 'Inconclusive', 'NotRunnable' }).Count
        }
        # A run the test host did not finish (crash, hang timeout) is a failure even if no single test failed.
        $runOutcome = $xml.SelectSingleNode('//t:ResultSummary/@outcome', $ns)
        if ($runOutcome -and $runOutcome.Value -in 'Aborted', 'Error' -and $failed -eq 0) {
            $failed = 1
            $summary.Failures.Add("${project}: test run $($runOutcome.Value.ToLowerInvariant()): $(($runText -split "`n")[0])")
        }

        foreach ($result in $xml.SelectNodes('//t:Results/t:UnitTestResult', $ns)) {
            if ($result.GetAttribute('outcome') -in 'Failed', 'Error', 'Timeout', 'Aborted') {
                $message = $result.SelectSingleNode('t:Output/t:ErrorInfo/t:Message', $ns)
                $firstLine = if ($message) { ($message.InnerText.Trim() -split "`n")[0] } else { '' }
                $summary.Failures.Add("$($result.GetAttribute('testName')): $firstLine")
            }
        }

        $summary.Passed += $passed
        $summary.Failed += $failed
        $summary.Skipped += $skipped
        $line = '  {0,-32} {1,5} passed {2,4} failed' -f $project, $passed, $failed
        if ($skipped -gt 0) { $line += " {0,4} skipped" -f $skipped }
        if ($passed + $failed + $skipped -eq 0) { $line += '   (no tests)' }
        $summary.Projects.Add($line)
    }
    $summary.Total = $summary.Passed + $summary.Failed + $summary.Skipped
    $summary
}

# Prints the per-project table, the failures and then exactly one closing `N passed, M failed`.
function Write-TestSummary($Summary, [string] $Directory) {
    Write-Host ''
    Write-Host "Test results ($($Summary.Files) TRX files in $Directory):"
    foreach ($line in $Summary.Projects) { Write-Host $line }
    if ($Summary.Failures.Count -gt 0) {
        Write-Host 'Failures:'
        foreach ($failure in $Summary.Failures | Select-Object -First 50) { Write-Host "  $failure" }
        if ($Summary.Failures.Count -gt 50) { Write-Host "  … and $($Summary.Failures.Count - 50) more (see the TRX files)" }
    }
    if ($Summary.Total -eq 0) {
        [Console]::Error.WriteLine('build.ps1: no test ran')
    }
    $closing = "$($Summary.Passed) passed, $($Summary.Failed) failed"
    if ($Summary.Skipped -gt 0) { $closing += ", $($Summary.Skipped) skipped" }
    $script:SummaryPrinted = $true
    Write-Host $closing
    if ($Summary.Failed -gt 0 -or $Summary.Total -eq 0) { exit 1 }
    exit 0
}

function Invoke-Test([string] $Configuration) {
    Invoke-Deps
    Invoke-Build $Configuration
    Write-Step 'test'
    if (Test-Path $TestResultsDir) { Remove-Item $TestResultsDir -Recurse -Force }
    # --blame-hang-timeout: one test stuck on a dead FUSE mount must not eat the CI budget.
    & dotnet test $Solution -c $Configuration --no-build --nologo `
        --logger trx --results-directory $TestResultsDir `
        --blame-hang-timeout 10m --blame-hang-dump-type none
    $testExit = $LASTEXITCODE
    $summary = Get-TestSummary $TestResultsDir
    if ($testExit -ne 0 -and $summary.Failed -eq 0) {
        $summary.Failed = 1
        $summary.Total++
        $summary.Failures.Add("dotnet test exited with code $testExit although no TRX file reports a failed test")
    }
    Write-TestSummary $summary $TestResultsDir
}

# ---------------------------------------------------------------------------------------------
# publish, mount

function Test-AotToolchain {
    if (-not $IsLinux) { return $true }   # Windows needs the MSVC build tools; the publish itself says so.
    (Test-Command 'clang-14') -or (Test-Command 'clang')
}

# The NativeAOT binary is current when it is newer than every source and build file.
function Test-PublishCurrent {
    $exe = Get-QcowExe
    if (-not (Test-Path $exe) -or (Test-Path (Join-Path $PublishDir 'qcow2mount.dll'))) { return $false }
    $built = (Get-Item $exe).LastWriteTimeUtc
    $inputs = @(Get-ChildItem (Join-Path $Root 'src') -Recurse -File |
            Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' }) +
        @(Get-ChildItem $Root -File | Where-Object Name -in 'Directory.Build.props', 'Directory.Packages.props', 'global.json')
    -not ($inputs | Where-Object { $_.LastWriteTimeUtc -gt $built } | Select-Object -First 1)
}

# `dotnet publish` arguments shared by every publish, with an intermediate folder per runtime.
function Get-PublishArguments([string] $Rid) {
    @('publish', $CliProject, '-c', 'Release', '-r', $Rid, '--artifacts-path', (Join-Path $PublishBuildDir $Rid), '--nologo')
}

function Invoke-Publish {
    Write-Step 'publish (NativeAOT)'
    $rid = Get-RuntimeIdentifier
    if (Test-Path $PublishDir) { Remove-Item $PublishDir -Recurse -Force }
    if (-not (Test-AotToolchain)) {
        Invoke-Deps
    }
    $common = Get-PublishArguments $rid
    if (Test-AotToolchain) {
        Invoke-Native 'dotnet' ($common + @('-p:PublishAot=true', '-o', $PublishDir)) 'NativeAOT publish'
        Write-Host "publish: $(Get-QcowExe) (NativeAOT, $rid)"
        return
    }
    Write-Warning ('NativeAOT needs clang (clang-14) and zlib1g-dev, and there is no clang (run `dotnet pwsh build.ps1 deps` as root). ' +
        'Publishing a framework-dependent qcow2mount instead: it needs the .NET runtime, and `deb` refuses it.')
    Invoke-Native 'dotnet' ($common + @('--self-contained', 'false', '-p:PublishAot=false', '-o', $PublishDir)) 'publish'
    Write-Host "publish: $(Get-QcowExe) (framework-dependent, $rid)"
}

function Invoke-PublishIfNeeded {
    if (Test-PublishCurrent) {
        Write-Host "publish: $(Get-QcowExe) is up to date"
    }
    else {
        Invoke-Publish
    }
}

# The verbs qcow2mount lists in its --help ("  create     Create a qcow2 image").
function Get-QcowVerbs {
    $help = & (Get-QcowExe) --help 2>&1
    @($help | ForEach-Object { if ("$_" -match '^\s{2}([a-z][a-z0-9-]*)\s') { $Matches[1] } })
}

function Invoke-Mount([string[]] $Arguments) {
    Invoke-Deps   # fuse3 to mount, qemu-utils for the demo image, clang-14 to publish
    Invoke-PublishIfNeeded
    $exe = Get-QcowExe
    if ($Arguments.Count -gt 0) {
        & $exe @Arguments
        exit $LASTEXITCODE
    }
    $verbs = Get-QcowVerbs
    if ('demo' -in $verbs) {
        & $exe demo
        exit $LASTEXITCODE
    }
    if ('create' -in $verbs) {
        $demoDir = Join-Path $Artifacts 'demo'
        New-Item -ItemType Directory -Force $demoDir | Out-Null
        $image = Join-Path $demoDir 'demo.qcow2'
        if (Test-Path $image) { Remove-Item $image -Force }
        Invoke-Native $exe @('create', $image, '1G') 'qcow2mount create'
        $relativeExe = Resolve-Path -Relative $exe
        $relativeImage = Resolve-Path -Relative $image
        Write-Host "mount: created $relativeImage (1 GiB). This build has no 'demo' verb yet, so nothing was mounted. Try next:"
        Write-Host "  $relativeExe --help"
        Write-Host "  $relativeExe $relativeImage /mnt/raw        # as root: mkdir -p /mnt/raw first"
        exit 0
    }
    Stop-Build "this build of qcow2mount has neither a 'demo' nor a 'create' verb yet, so there is no demo to mount; the binary is $(Resolve-Path -Relative $exe) (try --help)"
}

# ---------------------------------------------------------------------------------------------
# deb, msi, bench, clean

# The Cli project's Version: VersionPrefix in Directory.Build.props (plus VersionSuffix for a pre-release).
function Get-ProjectVersion {
    $version = & dotnet msbuild $CliProject -getProperty:Version -nologo 2>$null
    if ($LASTEXITCODE -ne 0 -or -not $version) { Stop-Build 'could not read the Version property of the Cli project' }
    "$version".Trim()
}

# Writes $Text with LF line ends and no BOM, as Debian tools expect.
function Set-UnixText([string] $Path, [string] $Text) {
    [System.IO.File]::WriteAllText($Path, ($Text -replace "`r`n", "`n"), [System.Text.UTF8Encoding]::new($false))
}

function New-GzipFile([string] $Source, [string] $Destination) {
    $in = [System.IO.File]::OpenRead($Source)
    try {
        $out = [System.IO.File]::Create($Destination)
        try {
            $gzip = [System.IO.Compression.GZipStream]::new($out, [System.IO.Compression.CompressionLevel]::SmallestSize)
            try { $in.CopyTo($gzip) } finally { $gzip.Dispose() }
        }
        finally { $out.Dispose() }
    }
    finally { $in.Dispose() }
}

function Invoke-Deb {
    if (-not $IsLinux) { Stop-Build 'deb builds on Linux with dpkg-deb' }
    if (-not (Test-Command 'dpkg-deb')) { Stop-Build 'deb needs dpkg-deb (package dpkg)' }
    if (-not (Test-AotToolchain)) {
        Stop-Build 'deb packages the NativeAOT binary, which needs clang-14 and zlib1g-dev: run `dotnet pwsh build.ps1 deps` as root'
    }
    Invoke-PublishIfNeeded   # with the toolchain present this is always NativeAOT

    $debArch = switch ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture) {
        'X64' { 'amd64' } 'Arm64' { 'arm64' } default { Stop-Build "no Debian architecture name for $_" }
    }
    # Debian sorts `~` before everything, so 1.2.0-rc.1 becomes 1.2.0~rc.1 and comes before 1.2.0.
    $version = (Get-ProjectVersion) -replace '-', '~' -replace '\+.*$', ''
    $name = "qcow2mount_${version}_$debArch"
    Write-Step "deb $name"

    $stage = Join-Path $Artifacts "deb/$name"
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $dirs = 'DEBIAN', 'usr/bin', 'usr/share/doc/qcow2mount', 'usr/share/man/man1', 'usr/share/applications', 'usr/share/icons/hicolor/scalable/apps'
    foreach ($d in $dirs) { New-Item -ItemType Directory -Force (Join-Path $stage $d) | Out-Null }

    Copy-Item (Get-QcowExe) (Join-Path $stage 'usr/bin/qcow2mount')
    # Double-click on a .qcow2 (MIME type application/x-qemu-disk, which shared-mime-info defines) runs `qcow2mount open`.
    Copy-Item (Join-Path $DebInstallerDir 'qcow2mount.desktop') (Join-Path $stage 'usr/share/applications/qcow2mount.desktop')
    Copy-Item (Join-Path $IconDir 'qcow2mount.svg') (Join-Path $stage 'usr/share/icons/hicolor/scalable/apps/qcow2mount.svg')
    Copy-Item (Join-Path $Root 'README.md') (Join-Path $stage 'usr/share/doc/qcow2mount/README.md')
    Copy-Item (Join-Path $DebInstallerDir 'copyright') (Join-Path $stage 'usr/share/doc/qcow2mount/copyright')
    New-GzipFile (Join-Path $DebInstallerDir 'qcow2mount.1') (Join-Path $stage 'usr/share/man/man1/qcow2mount.1.gz')

    $installedKiB = [math]::Ceiling(((Get-ChildItem $stage -Recurse -File | Measure-Object Length -Sum).Sum) / 1024)
    $control = (Get-Content (Join-Path $DebInstallerDir 'control') -Raw).
        Replace('@VERSION@', $version).Replace('@ARCH@', $debArch).Replace('@INSTALLED_SIZE@', "$installedKiB")
    Set-UnixText (Join-Path $stage 'DEBIAN/control') $control

    # Debian policy modes: 0755 folders and programs, 0644 everything else.
    $exec = [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    $plain = [System.IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead'
    Get-ChildItem $stage -Recurse -Directory | ForEach-Object { [System.IO.File]::SetUnixFileMode($_.FullName, $exec) }
    [System.IO.File]::SetUnixFileMode($stage, $exec)
    Get-ChildItem $stage -Recurse -File | ForEach-Object { [System.IO.File]::SetUnixFileMode($_.FullName, $plain) }
    [System.IO.File]::SetUnixFileMode((Join-Path $stage 'usr/bin/qcow2mount'), $exec)

    $deb = Join-Path $Artifacts "$name.deb"
    Invoke-Native 'dpkg-deb' @('--root-owner-group', '-Zxz', '--build', $stage, $deb) 'dpkg-deb --build'
    Write-Host "deb: $(Resolve-Path -Relative $deb)"
}

# The MSI: a self-contained, trimmed win-x64 publish (NativeAOT cannot cross-compile; a folder publish runs under Wine,
# a single-file one does not without self-extraction), the icon and the README, packed by installer/msi/build-msi.ps1.
function Invoke-Msi {
    if (-not $IsLinux) { Stop-Build 'msi builds on Linux with wixl (msitools); see installer/msi/README.md' }
    if (-not ((Test-Command 'wixl') -and (Test-Command 'msibuild'))) { Invoke-Deps }
    if (-not ((Test-Command 'wixl') -and (Test-Command 'msibuild'))) {
        Stop-Build 'msi needs wixl and msitools: run `dotnet pwsh build.ps1 deps` as root (or apt-get install wixl msitools)'
    }
    $version = Get-ProjectVersion
    $msiVersion = $version -replace '[-+].*$', ''   # MSI versions are numbers only: 1.2.0-rc.1 installs as 1.2.0
    $name = "qcow2mount-$version-x64"
    Write-Step "msi $name"

    if (Test-Path $WinPublishDir) { Remove-Item $WinPublishDir -Recurse -Force }
    $publish = (Get-PublishArguments 'win-x64') +
        @('--self-contained', '-p:PublishAot=false', '-p:PublishTrimmed=true', '-o', $WinPublishDir)
    Invoke-Native 'dotnet' $publish 'win-x64 publish'

    $payload = Join-Path $Artifacts 'msi/payload'
    if (Test-Path $payload) { Remove-Item $payload -Recurse -Force }
    New-Item -ItemType Directory -Force $payload | Out-Null
    Copy-Item (Join-Path $WinPublishDir '*') $payload -Recurse
    Get-ChildItem $payload -Recurse -File -Filter '*.pdb' | Remove-Item
    Copy-Item (Join-Path $IconDir 'qcow2mount.ico') $payload
    Copy-Item (Join-Path $Root 'README.md') $payload

    $msi = Join-Path $Artifacts "$name.msi"
    & (Join-Path $MsiInstallerDir 'build-msi.ps1') -PayloadDir $payload -Version $msiVersion -OutputFile $msi
    if ($LASTEXITCODE -ne 0) { Stop-Build "installer/msi/build-msi.ps1 failed (exit code $LASTEXITCODE)" }
    Write-Host "msi: $(Resolve-Path -Relative $msi)"
}

function Invoke-Bench([string[]] $Arguments) {
    if (-not (Test-Path $BenchScript)) {
        Stop-Build 'scripts/bench.sh does not exist yet in this tree, so there is no benchmark to run'
    }
    & bash $BenchScript @Arguments
    exit $LASTEXITCODE
}

function Invoke-Clean {
    Write-Step 'clean'
    if (Test-Path $Artifacts) { Remove-Item $Artifacts -Recurse -Force }
    Get-ChildItem $Root -Filter '*.csproj' -Recurse -File |
        Where-Object { $_.FullName -notmatch '[\\/](bin|obj|artifacts)[\\/]' } |
        ForEach-Object {
            foreach ($output in 'bin', 'obj') {
                $path = Join-Path $_.DirectoryName $output
                if (Test-Path $path) { Remove-Item $path -Recurse -Force }
            }
        }
}

function Show-Help {
    Write-Host 'usage: dotnet pwsh build.ps1 <target> [-Configuration Release|Debug] [args]'
    Write-Host ''
    Write-Host 'Targets:'
    foreach ($t in $Targets.GetEnumerator()) { Write-Host ('  {0,-8} {1}' -f $t.Key, $t.Value) }
}

# ---------------------------------------------------------------------------------------------
# main

$script:Target = if ($args.Count -gt 0) { "$($args[0])" } else { 'help' }
$targetArgs = [string[]] @($args | Select-Object -Skip 1)
if (-not $Targets.Contains($script:Target) -or $script:Target -cne $script:Target.ToLowerInvariant()) {
    Stop-Build "unknown target '$($script:Target)' (targets: $($Targets.Keys -join ', '))" 2
}

try {
    Push-Location $Root
    switch ($script:Target) {
        'deps' { Invoke-Deps }
        'build' { Invoke-Build (Split-Options $targetArgs).Configuration }
        'test' { Invoke-Test (Split-Options $targetArgs).Configuration }
        'summary' {
            $dir = if ($targetArgs.Count -gt 0) { $targetArgs[0] } else { $TestResultsDir }
            Write-TestSummary (Get-TestSummary $dir) $dir
        }
        'publish' { Invoke-Publish }
        'mount' { Invoke-Mount $targetArgs }
        'deb' { Invoke-Deb }
        'msi' { Invoke-Msi }
        'package' { Invoke-Deb; Invoke-Msi }
        'bench' { Invoke-Bench $targetArgs }
        'clean' { Invoke-Clean }
        'help' { Show-Help }
    }
}
catch {
    Stop-Build "unexpected error: $($_.Exception.Message) ($($_.InvocationInfo.PositionMessage -replace '\s+', ' '))"
}
finally {
    Pop-Location
}
exit 0
