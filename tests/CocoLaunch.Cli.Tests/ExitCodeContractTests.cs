using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// tests/data/exit-codes.tsv, the exit-code contract of every verb: missing files, directories, devices, wrong
/// formats, out-of-range and conflicting options, extra arguments. Each row's exit code, and the start of its one
/// stderr line.
/// </summary>
public sealed class ExitCodeContractTests
{
    private static readonly string Attestation = Path.Combine(RepoPaths.Root, "tests", "data", "attestation");

    public static TheoryData<string[]> Rows() => DataTable.Rows("exit-codes.tsv", "args\t");

    [Theory]
    [MemberData(nameof(Rows))]
    public void Verb_BadInput_ExitCodeAndMessage(string[] row)
    {
        using var dir = new TempDir();
        dir.Write("empty", []);
        dir.Write("text.txt", "hello\n");
        Directory.CreateDirectory(Path.Combine(dir.Path, "d"));
        string Expand(string s) => s
            .Replace("{D}", dir.Path, StringComparison.Ordinal)
            .Replace("{TDX}", RepoPaths.LaunchSpec("tdx.yaml"), StringComparison.Ordinal)
            .Replace("{SNP}", RepoPaths.LaunchSpec("snp.yaml"), StringComparison.Ordinal)
            .Replace("{SW}", RepoPaths.LaunchSpec("sw-protected.yaml"), StringComparison.Ordinal)
            .Replace("{FW}", RepoPaths.OvmfFd, StringComparison.Ordinal)
            .Replace("{KEY}", Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", "signer.key"), StringComparison.Ordinal)
            .Replace("{CERT}", Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", "signer.pem"), StringComparison.Ordinal)
            .Replace("{QUOTE}", Path.Combine(Attestation, "tdx-go-tdx-guest", "quote.bin"), StringComparison.Ordinal)
            .Replace("{INTELROOT}", Path.Combine(Attestation, "tdx-go-tdx-guest", "intel_sgx_root_ca.pem"), StringComparison.Ordinal)
            .Replace("{REPORT}", Path.Combine(Attestation, "snp-go-sev-guest", "report.bin"), StringComparison.Ordinal)
            .Replace("{ARK}", Path.Combine(Attestation, "snp-go-sev-guest", "ark.pem"), StringComparison.Ordinal)
            .Replace("{H96}", new string('0', 96), StringComparison.Ordinal);

        string[] args = Expand(row[0]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int exit = int.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture);
        var result = CliRunner.Run(args);
        Assert.True(result.Exit == exit, $"{row[0]}: exit {result.Exit}, expected {exit}\n{result.Stderr}");
        if (row[2] == "-")
        {
            Assert.Equal(string.Empty, result.Stderr);
        }
        else
        {
            Assert.StartsWith("cocolaunch: " + Expand(row[2]), result.ErrorLine, StringComparison.Ordinal);
        }

        Assert.Null(MutationSmokeTests.Problem(result));
    }
}
