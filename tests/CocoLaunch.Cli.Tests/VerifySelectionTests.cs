using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// verify compares with the reference value the user meant: the entry named as the spec or one selected with
/// --reference, never the only entry of the platform under another name (exit 2); a digest of the wrong length is
/// an input error (exit 2), not a mismatch.
/// </summary>
public sealed class VerifySelectionTests
{
    private static string References(TempDir dir, string name)
    {
        string refs = Path.Combine(dir.Path, "refs.json");
        var written = CliRunner.Run("reference-values", RepoPaths.LaunchSpec("sev.yaml"), "--out", refs);
        Assert.True(written.Exit == 0, written.Stderr);
        File.WriteAllText(refs, File.ReadAllText(refs).Replace("\"name\": \"sev\"", $"\"name\": \"{name}\"", StringComparison.Ordinal));
        return refs;
    }

    [Fact]
    public void OnlyEntryUnderAnotherName_Exit2_NamesTheMismatch()
    {
        using var dir = new TempDir();
        string refs = References(dir, "other-image");

        var result = CliRunner.Run("verify", RepoPaths.LaunchSpec("sev.yaml"), "--reference-values", refs);

        Assert.Equal((2, $"cocolaunch: {refs}: no reference value named 'sev', the spec's name (it has: other-image); select one with --reference NAME"), (result.Exit, result.ErrorLine));
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Fact]
    public void EntrySelectedExplicitly_IsCompared()
    {
        using var dir = new TempDir();
        string refs = References(dir, "other-image");

        var result = CliRunner.Run("verify", RepoPaths.LaunchSpec("sev.yaml"), "--reference-values", refs, "--reference", "other-image");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.StartsWith("match: sev MEASUREMENT ", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SelectedEntryMissing_Exit2()
    {
        using var dir = new TempDir();
        string refs = References(dir, "other-image");

        var result = CliRunner.Run("verify", RepoPaths.LaunchSpec("sev.yaml"), "--reference-values", refs, "--reference", "nope");

        Assert.Equal((2, $"cocolaunch: {refs}: --reference: no reference value named 'nope' (it has: other-image)"), (result.Exit, result.ErrorLine));
    }

    [Theory]
    [InlineData("tdx.yaml", 64, "cocolaunch: --expected: 32 bytes given, but a tdx MRTD is 48 bytes (96 hex digits)")]
    [InlineData("sev.yaml", 96, "cocolaunch: --expected: 48 bytes given, but a sev MEASUREMENT is 32 bytes (64 hex digits)")]
    public void ExpectedOfTheWrongLength_Exit2_NamesTheLength(string spec, int digits, string expected)
    {
        var result = CliRunner.Run("verify", RepoPaths.LaunchSpec(spec), "--expected", new string('a', digits));

        Assert.Equal((2, expected), (result.Exit, result.ErrorLine));
        Assert.Equal(string.Empty, result.Stdout);
    }
}
