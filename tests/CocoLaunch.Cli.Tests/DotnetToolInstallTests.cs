using System.Text.Json;
using System.Xml.Linq;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The package a user installs (issue 21 item 1): packed, installed with `dotnet tool install --tool-path`, and run as
/// the `cocolaunch` command from the repository root, as the README's set-up shows.
/// </summary>
public sealed class DotnetToolInstallTests(InstalledTool tool) : IClassFixture<InstalledTool>
{
    [Fact]
    public void Version_IsTheProjectsVersion()
    {
        // Directory.Build.props' <Version>, read here rather than through CliApp.Version, which is under test.
        string version = XDocument.Load(Path.Combine(RepoPaths.Root, "Directory.Build.props")).Descendants("Version").Single().Value;
        var result = tool.Run("--version");
        Assert.Equal((0, $"cocolaunch {version}\n", string.Empty), (result.Exit, result.Stdout, result.Stderr));
    }

    [Fact]
    public void MeasureTdxSpec_Json_IsThePublicMrtd()
    {
        var result = tool.Run("measure", "launch-specs/tdx.yaml", "--output-format", "json");
        Assert.True(result.Exit == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(MeasureTests.PublicMrtd, json.RootElement.GetProperty("mrtd").GetString());
    }

    /// <summary>linux-snp.yaml names no firmware: the tool's own firmware/linux-snp.fd, from inside the package, is used.</summary>
    [Fact]
    public void MeasureSpecOnTheDefaultFirmware_IsSevSnpMeasuresDigest()
    {
        var result = tool.Run("measure", "launch-specs/linux-snp.yaml");
        Assert.Equal((0, LinuxSnpLaunchTests.SevSnpMeasureDigest + "\n", string.Empty), (result.Exit, result.Stdout, result.Stderr));
    }
}

/// <summary>
/// Packs the CLI once into a temporary folder and installs it from there alone (a nuget.config that clears every other
/// source, its own packages folder), so the test needs no registry and sees no earlier install of the same version.
/// </summary>
public sealed class InstalledTool : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private readonly string root = Directory.CreateTempSubdirectory("cocolaunch-tool-").FullName;
    private readonly string dotnet = DotnetHost();

    public InstalledTool()
    {
        string packages = Path.Combine(root, "packages");
        string config = Path.Combine(root, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);

        // The build this test run compiled (same configuration), packed without building it again: a Release build
        // of the whole graph would take minutes on CI's two cores. Pack's own outputs go under the temporary folder.
        string configuration = typeof(CliApp).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
            .Cast<System.Reflection.AssemblyConfigurationAttribute>().Single().Configuration;
        Expect(Dotnet(RepoPaths.Root, "pack", Path.Combine("src", "CocoLaunch.Cli"), "-c", configuration, "--no-build", "--disable-build-servers",
            "-o", packages, $"-p:NuspecOutputPath={Path.Combine(root, "nuspec")}/", $"-p:PublishDir={Path.Combine(root, "publish")}/"));
        Expect(Dotnet(root, "tool", "install", "cocolaunch", "--tool-path", Path.Combine(root, "tool"), "--configfile", config));
    }

    /// <summary>Runs the installed command in the repository's root, as a user with the repository checked out would.</summary>
    internal CliResult Run(params string[] args) => Execute(Path.Combine(root, "tool", "cocolaunch"), RepoPaths.Root, args);

    public void Dispose()
    {
        Directory.Delete(root, recursive: true);
    }

    private CliResult Dotnet(string directory, params string[] args) => Execute(dotnet, directory, args);

    private static void Expect(CliResult result) =>
        Assert.True(result.Exit == 0, $"exit {result.Exit}\n{result.Stdout}\n{result.Stderr}");

    private CliResult Execute(string file, string directory, string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        // Isolated from the machine's NuGet state (its packages folder, its first-run files) and quiet; the installed
        // apphost finds the runtime of the SDK that runs this test.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(root, "nuget-packages");
        start.Environment["DOTNET_CLI_HOME"] = Path.Combine(root, "home");
        if (Path.IsPathRooted(dotnet))
        {
            start.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(dotnet);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} ran longer than {Limit.TotalSeconds} s");
        }

        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The dotnet host running this test (testhost runs under it), or the SDK's own when it says which.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host)
        {
            return host;
        }

        return Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }
}
