using System.Diagnostics;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>samples/ci/ci-gate.sh runs in CI as a user's pipeline would: reference values, signed; verify; evidence.</summary>
public sealed class CiSampleTests
{
    [Fact]
    public async Task CiGateScript_VerifiesEverySpecAndTheSampleEvidence_AndRefusesATamperedDocument()
    {
        using var dir = new TempDir();
        string tool = Path.Combine(AppContext.BaseDirectory, "cocolaunch.dll");
        var start = new ProcessStartInfo("bash", [Path.Combine(RepoPaths.Root, "samples", "ci", "ci-gate.sh"), dir.Path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoPaths.Root,
        };
        start.Environment["COCOLAUNCH"] = $"dotnet {tool}";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(limit.Token);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{stdout}\n{await stderr}");
        var lines = stdout.Split('\n');
        Assert.Equal(13, lines.Count(l => l.StartsWith("match: ", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l.StartsWith("verified: ", StringComparison.Ordinal)));
        Assert.EndsWith("gate passed: 13 specs verified, 2 evidence files verified, tampering refused\n", stdout, StringComparison.Ordinal);
        // The trustee message carries the same digests.
        string trustee = File.ReadAllText(Path.Combine(dir.Path, "trustee-rvps-message.json"));
        Assert.Contains("\"type\": \"sample\"", trustee, StringComparison.Ordinal);
    }
}
