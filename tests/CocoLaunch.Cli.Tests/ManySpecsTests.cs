using System.Text.Json;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>measure, verify and reference-values over several specs: run in parallel, printed in the order given, worst exit code.</summary>
public sealed class ManySpecsTests
{
    private static readonly string Tdx = RepoPaths.LaunchSpec("tdx.yaml"), Snp = RepoPaths.LaunchSpec("snp.yaml"), Sev = RepoPaths.LaunchSpec("sev.yaml");

    private static string Digest(string spec) => CliRunner.Run("measure", spec).Stdout.Trim();

    [Fact]
    public void Measure_ManySpecs_OneLinePerSpecInTheOrderGiven()
    {
        string[] order = [Snp, Tdx, Sev, Tdx];
        var result = CliRunner.Run(["measure", .. order]);
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        Assert.Equal(order.Select(s => $"{s}: {Digest(s)}"), Lines(result.Stdout));
    }

    [Fact]
    public void Measure_OneBadSpec_IsReportedForItAloneAndTheExitCodeIsTheWorst()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.yaml");
        var result = CliRunner.Run("measure", Tdx, missing, Snp);
        Assert.Equal(2, result.Exit);
        Assert.Equal([$"{Tdx}: {Digest(Tdx)}", $"{Snp}: {Digest(Snp)}"], Lines(result.Stdout));
        Assert.StartsWith($"cocolaunch: {missing}: ", result.ErrorLine);
    }

    [Fact]
    public void Verify_ManySpecs_MismatchIsOneAndInputErrorOutranksIt()
    {
        string tdx = Digest(Tdx);
        var checkFailed = CliRunner.Run("verify", Tdx, Snp, "--expected", tdx);
        Assert.Equal(1, checkFailed.Exit);
        var lines = Lines(checkFailed.Stdout);
        Assert.StartsWith($"{Tdx}: match:", lines[0]);
        Assert.StartsWith($"{Snp}: MISMATCH:", lines[1]);
        Assert.All(lines, l => Assert.True(l.StartsWith(Tdx + ": ", StringComparison.Ordinal) || l.StartsWith(Snp + ": ", StringComparison.Ordinal), l));

        var inputError = CliRunner.Run("verify", Snp, Sev, Tdx, "--expected", tdx);
        Assert.Equal(2, inputError.Exit); // sev's digest is 32 bytes: an input error, worse than snp's mismatch
    }

    [Fact]
    public void Verify_ManySpecsJson_OneObjectPerLineWithItsExitCode()
    {
        var result = CliRunner.Run("verify", Snp, Tdx, "--expected", Digest(Tdx), "--format", "json");
        Assert.Equal(1, result.Exit);
        var docs = Lines(result.Stdout).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([(Snp, 1, false), (Tdx, 0, true)], docs.Select(d => (d.GetProperty("spec").GetString(), d.GetProperty("exitCode").GetInt32(), d.GetProperty("result").GetProperty("match").GetBoolean())));
    }

    [Fact]
    public void Measure_ManySpecsWithAOneFileOption_IsRefused()
    {
        var result = CliRunner.Run("measure", Tdx, Tdx, "--tdreport", Path.Combine(Path.GetTempPath(), "never-written.bin"));
        Assert.Equal(2, result.Exit);
        Assert.Contains("give one spec", result.ErrorLine);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReferenceValues_BuiltInParallel_KeepTheOrderGiven(bool reversed)
    {
        string[] specs = reversed ? [Tdx, Snp, Sev] : [Sev, Snp, Tdx];
        var result = CliRunner.Run(["reference-values", .. specs, "--no-log"]);
        Assert.Equal(0, result.Exit);
        var digests = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("references").EnumerateArray().Select(r => r.GetProperty("digest").GetProperty("hex").GetString());
        Assert.Equal(specs.Select(Digest), digests);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}
