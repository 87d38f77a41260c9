using System.Security.Cryptography;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>A spec's snp.id-block and snp.id-auth go through KVM_SEV_SNP_LAUNCH_FINISH and are verified there.</summary>
public sealed class IdBlockLaunchTests
{
    private static string Spec(TempDir dir, string extra) => dir.Write("s.yaml",
        $"platform: snp\nfirmware: {RepoPaths.Synthetic("amdsev-like.fd")}\nvcpus: 2\nmemory: 1G\nsnp:\n  vcpu-type: EPYC-v4\n{extra}");

    private static string IdKeys(byte[] digest, ulong policy = 0x30000, bool withAuth = true)
    {
        using var idKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        byte[] block = new IdBlock(digest, new byte[16], new byte[16], 1, policy).ToBytes();
        string yaml = $"  id-block: {Convert.ToBase64String(block)}\n";
        return withAuth ? yaml + $"  id-auth: {Convert.ToBase64String(IdAuth.Build(block, idKey))}\n" : yaml;
    }

    private static byte[] PlainDigest(TempDir dir) => Convert.FromHexString(CliRunner.Run("measure", Spec(dir, string.Empty)).Stdout.Trim());

    [Fact]
    public void MatchingIdBlock_LaunchFinishes_WithTheSameDigest()
    {
        using var dir = new TempDir();
        byte[] digest = PlainDigest(dir);
        var result = CliRunner.Run("measure", Spec(dir, IdKeys(digest)));
        Assert.Equal((0, Convert.ToHexStringLower(digest), string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void IdBlockForAnotherDigest_ExitTwoWithTheFirmwaresStatus()
    {
        using var dir = new TempDir();
        byte[] digest = PlainDigest(dir);
        digest[47] ^= 0x80;
        var result = CliRunner.Run("measure", Spec(dir, IdKeys(digest)));
        Assert.Equal(2, result.Exit);
        Assert.Contains("snp.id-block: the firmware refused it at LAUNCH_FINISH", result.Stderr);
        Assert.Contains("BadMeasurement", result.Stderr);
    }

    [Fact]
    public void IdBlockWithAnotherPolicy_PolicyFailure()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Spec(dir, IdKeys(PlainDigest(dir), policy: 0x70000)));
        Assert.Equal(2, result.Exit);
        Assert.Contains("PolicyFailure", result.Stderr);
    }

    [Fact]
    public void IdBlockWithoutIdAuth_ExitTwo()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Spec(dir, IdKeys(new byte[48], withAuth: false)));
        Assert.Equal(2, result.Exit);
        Assert.Contains("snp.id-block needs snp.id-auth", result.Stderr);
    }
}
