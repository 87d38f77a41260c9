using CocoLaunch.Firmware.Snp;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`cocolaunch id-block` against sev-snp-measure's snp-create-id-block, and round trips through a launch.</summary>
public sealed class IdBlockVerbTests
{
    private static readonly string Data = Path.Combine(RepoPaths.Root, "tests", "data");
    private static readonly string IdKey = Path.Combine(Data, "oracle-snp-id-key.pem");
    private static readonly string AuthorKey = Path.Combine(Data, "oracle-snp-author-key.pem");

    [Fact]
    public void SameInputsAsTheOracle_SameIdBlockAndKeyDigests_AndAnAuthThatVerifies()
    {
        string[] oracle = File.ReadAllLines(Path.Combine(Data, "oracle-snp-id-block.txt")).Where(l => !l.StartsWith('#')).ToArray();
        string measurement = Convert.ToBase64String(Enumerable.Range(0, 48).Select(i => (byte)i).ToArray());
        var result = CliRunner.Run("id-block", "--measurement", measurement, "--id-key", IdKey, "--author-key", AuthorKey);
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        string[] lines = result.Stdout.Trim().Split('\n');

        // ECDSA signatures are randomised, so the ID auth differs from the oracle's; the ID block and keys do not.
        Assert.Equal(oracle[0].Split(',')[0], lines[0].Split(',')[0]);
        Assert.Equal(Convert.FromBase64String(oracle[1]["id_key_hash: ".Length..]), Convert.FromHexString(lines[1]["id-key-digest: ".Length..]));
        Assert.Equal(Convert.FromBase64String(oracle[2]["author_key: ".Length..]), Convert.FromHexString(lines[2]["author-key-digest: ".Length..]));
        byte[] block = Convert.FromBase64String(lines[0].Split(',')[0]["id-block=".Length..]);
        byte[] auth = Convert.FromBase64String(lines[0].Split(',')[1]["id-auth=".Length..]);
        Assert.Null(IdAuth.Verify(block, auth, authorKeyEnabled: true));
    }

    [Fact]
    public void YamlOutput_AppendedToTheSpec_PassesTheEmulatedLaunchFinish()
    {
        using var dir = new TempDir();
        string spec = $"platform: snp\nfirmware: {RepoPaths.Synthetic("amdsev-like.fd")}\nvcpus: 2\nmemory: 1G\nsnp:\n  vcpu-type: EPYC-Milan\n  policy: 0x30000\n";
        string digest = CliRunner.Run("measure", dir.Write("plain.yaml", spec)).Stdout.Trim();
        var ids = CliRunner.Run("id-block", "--measurement", digest, "--id-key", IdKey, "--author-key", AuthorKey, "--family-id", new string('a', 32), "--guest-svn", "3", "--format", "yaml");
        Assert.Equal(0, ids.Exit);

        var bound = CliRunner.Run("measure", dir.Write("bound.yaml", spec + ids.Stdout));
        Assert.Equal((0, digest, string.Empty), (bound.Exit, bound.Stdout.Trim(), bound.Stderr));

        // The policy is not in the digest, so a launch under another policy (DEBUG; KVM refuses MIGRATE_MA itself) measures the same; the block still refuses it.
        var refused = CliRunner.Run("measure", dir.Write("other.yaml", spec.Replace("0x30000", "0xB0000") + ids.Stdout));
        Assert.Equal(2, refused.Exit);
        Assert.Contains("PolicyFailure", refused.Stderr);
    }

    [Theory]
    [InlineData("--measurement", "00", "--measurement: expected a 48-byte launch digest")]
    [InlineData("--family-id", "abc", "--family-id: expected 16 bytes as 32 hex digits")]
    [InlineData("--policy", "0xZZ", "--policy: '0xZZ' is not a number")]
    [InlineData("--format", "json", "--format: 'json' is not one of: qemu, yaml")]
    public void BadArguments_ExitTwo(string option, string value, string message)
    {
        var args = new Dictionary<string, string> { ["--measurement"] = new string('0', 96), ["--id-key"] = IdKey };
        args[option] = value;
        var result = CliRunner.Run(["id-block", .. args.SelectMany(a => new[] { a.Key, a.Value })]);
        Assert.Equal(2, result.Exit);
        Assert.Contains(message, result.Stderr);
    }
}
