namespace CocoLaunch.Cli.Tests;

/// <summary>Verb dispatch, help, version and usage errors.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void Version_PrintsNameAndVersion()
    {
        var result = CliRunner.Run("--version");
        Assert.Equal((0, "cocolaunch 0.1.0"), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void Help_ListsTheWorkingVerbsAndExitCodes()
    {
        var result = CliRunner.Run("--help");
        Assert.Equal(0, result.Exit);
        Assert.Contains("  validate            Check a launch spec", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  inspect             Show a firmware image's", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 ok, 1 a check failed, 2 input or usage error, 3 internal error (a", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  measure             Launch a spec on the emulated TDX module", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  boot                Boot a raw flat firmware image", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  verify              Recompute a spec's launch digest", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  verify-evidence     Verify an SNP attestation report or a TDX quote", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("help", "inspect")]
    [InlineData("inspect", "--help")]
    public void VerbHelp_ShowsTheVerbsOptions(string first, string second)
    {
        var result = CliRunner.Run(first, second);
        Assert.Equal(0, result.Exit);
        Assert.Contains("--vars", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--format", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "cocolaunch: no verb given; use one of: validate, inspect, measure, diff, launch, bench, id-block, boot, reference-values, verify, attest, verify-evidence, eventlog, igvm (see 'cocolaunch --help')")]
    [InlineData(new[] { "frob" }, "cocolaunch: unknown verb 'frob'; use one of: validate, inspect, measure, diff, launch, bench, id-block, boot, reference-values, verify, attest, verify-evidence, eventlog, igvm (see 'cocolaunch --help')")]
    [InlineData(new[] { "inspect" }, "cocolaunch: a required argument is missing (see 'cocolaunch inspect --help')")]
    [InlineData(new[] { "validate" }, "cocolaunch: a required argument is missing (see 'cocolaunch validate --help')")]
    [InlineData(new[] { "inspect", "x.fd", "--format", "xml" }, "cocolaunch: bad value for --format (see 'cocolaunch inspect --help')")]
    [InlineData(new[] { "inspect", "x.fd", "--bogus" }, "cocolaunch: unknown option '--bogus' (see 'cocolaunch inspect --help')")]
    [InlineData(new[] { "inspect", "x.fd", "--platform", "sgx" }, "cocolaunch: --platform: 'sgx' is not one of: tdx, snp, sev-es, sev, sw-protected, default")]
    public void BadUsage_ExitsTwoWithOneLine(string[] args, string expected)
    {
        var result = CliRunner.Run(args);
        Assert.Equal((2, expected), (result.Exit, result.ErrorLine));
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Fact]
    public void Verbose_AddsTheExceptionDetailsAfterTheOneLineError()
    {
        var result = CliRunner.Run("inspect", "/nonexistent/x.fd", "--verbose");
        Assert.Equal(2, result.Exit);
        string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("cocolaunch: /nonexistent/x.fd: no such firmware file", lines[0]);
        Assert.StartsWith("CocoLaunch.Formats.FirmwareFileException:", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("validate", "launch-specs/tdx.yaml", "launch-specs/snp.yaml")] // checked only the first and exited 0
    [InlineData("verify-evidence", "a.bin", "b.bin", "--root", "r.pem")]
    [InlineData("diff", "a.log", "b.log", "c.log")]
    public void ExtraPositionalArgument_ExitsTwoNamingIt(params string[] args)
    {
        var result = CliRunner.Run(args);
        Assert.Equal((2, $"cocolaunch: unexpected argument '{args[args[0] == "diff" ? 3 : 2]}' (see 'cocolaunch {args[0]} --help')"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void ListOptionValuesAndListPositionals_AreNotExtraArguments()
    {
        // --vmpl takes a list (0 1); reference-values, measure and verify take any number of specs.
        Assert.DoesNotContain("unexpected argument", CliRunner.Run("verify-evidence", "missing.bin", "--root", "r.pem", "--vmpl", "0", "1").Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected argument", CliRunner.Run("reference-values", "a.yaml", "b.yaml", "c.yaml").Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected argument", CliRunner.Run("measure", "a.yaml", "b.yaml").Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected argument", CliRunner.Run("verify", "a.yaml", "b.yaml", "--expected", "00").Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected argument", CliRunner.Run("id-block", "--measurement", "x", "--id-key", "k", "--guest-svn", "-1").Stderr, StringComparison.Ordinal);
    }

    /// <summary>Defaults appear as users type them: `text`, never an enum's C# name such as `Text`.</summary>
    [Theory]
    [InlineData("inspect")]
    [InlineData("verify")]
    [InlineData("verify-evidence")]
    [InlineData("eventlog")]
    [InlineData("igvm")]
    [InlineData("measure")]
    [InlineData("launch")]
    [InlineData("reference-values")]
    public void Help_ShowsNoCapitalisedEnumDefault(string verb)
    {
        var help = CliRunner.Run(verb, "--help").Stdout;
        Assert.DoesNotMatch(@"\(Default: [A-Z][a-z]+\)", help);
    }

    [Theory]
    [InlineData("validate", "Usage: cocolaunch validate [OPTIONS] SPEC")]
    [InlineData("measure", "Usage: cocolaunch measure [OPTIONS] [SPEC...]")]
    [InlineData("diff", "Usage: cocolaunch diff [OPTIONS] A B")]
    [InlineData("igvm", "Usage: cocolaunch igvm [OPTIONS] ACTION SPEC")]
    [InlineData("verify-evidence", "Usage: cocolaunch verify-evidence [OPTIONS] EVIDENCE")]
    public void VerbHelp_StartsWithAUsageLineAndADescription_AndEndsWithTheFourExitCodes(string verb, string usage)
    {
        var lines = CliRunner.Run(verb, "--help").Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int at = lines.IndexOf(usage);
        Assert.True(at > 0, string.Join("\n", lines.Take(6)));
        Assert.False(string.IsNullOrWhiteSpace(lines[at + 1]));
        Assert.Contains("3 internal error", string.Join(" ", lines.TakeLast(4)), StringComparison.Ordinal);
    }
}
